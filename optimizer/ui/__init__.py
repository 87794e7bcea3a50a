"""The workbench logic behind app.py.

``controls``: the knob table (widgets <-> scenario) and program rules; ``sensitivity``:
the Sensitivity page; ``consensus``: the Consensus tab; ``plans``: the Save & compare tab's picks;
``notes``: the notes above the headline; ``uploads``: an upload's plan and its refusal.
"""
