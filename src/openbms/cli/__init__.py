"""openbms.cli."""
