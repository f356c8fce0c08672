"""openbms.drivers.sim."""
