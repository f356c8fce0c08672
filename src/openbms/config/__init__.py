"""openbms.config."""
