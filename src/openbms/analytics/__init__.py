"""Analytics over the historian's rollups: energy by meter and period (``energy``)."""
