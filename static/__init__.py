"""Static files the workbench serves (plotly base-map stand-ins), packaged as ``optimizer.static``."""
