"""The composition root: a site's running system built from its configuration.

``assembly`` builds and wires the parts (history, drivers and their manager,
arbiter, alarms, schedules, programs) to the bus, and is the only code that
does; ``runtime`` is the openbms process around it (state database, API,
health, start and stop order, signals, configuration changes); ``health``
watches the disk, the event loop and the historian.
"""
