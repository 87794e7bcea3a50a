"""The workbench logic behind app.py: controls, tables, region-set defaults, the sensitivity page."""
