"""The built-in simulator: in-process Auth and Backend with realistic delays and faults."""
