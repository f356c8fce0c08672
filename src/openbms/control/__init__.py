"""openbms.control."""
