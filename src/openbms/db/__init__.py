"""openbms.db."""
