"""openbms.bench."""
