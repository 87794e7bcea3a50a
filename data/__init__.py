"""Shipped region tables and geometry, packaged as ``optimizer.shipped`` (see pyproject.toml)."""
