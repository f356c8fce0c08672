"""Runtime: app lifecycle, bus, current-value cache, clock."""
