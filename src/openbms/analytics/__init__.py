"""Analytics over the historian's rollups: energy by meter and period (``energy``,
``consumption``), cost under tariffs (``tariffs``), baselines and savings for M&V
(``baseline``, ``gl14``, ``savings``) and load forecasts (``forecast``)."""
