"""openbms.drivers."""
