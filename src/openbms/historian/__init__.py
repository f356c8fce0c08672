"""openbms.historian."""
