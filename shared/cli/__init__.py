"""The `paceline` command line: the composition root that wires shared, producers and workers.

The one exception to the direction of imports (`producers -> shared <- workers`): it lives in
`shared/` because the design fixes the top level, it may import everything (lazily, inside
commands, so a command loads only what it runs), and nothing imports it (tests/test_imports.py
holds the code to both rules).
"""
