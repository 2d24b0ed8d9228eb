"""The `paceline` command line: the composition root that wires shared, producers and workers."""
