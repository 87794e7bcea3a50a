"""Analyses made of re-solves: diagnosis, sensitivity, the Tech Hubs reference, facts, consensus."""
