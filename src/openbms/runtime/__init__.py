"""The floor every part may stand on: the bus, the current-value cache and the clock.

The process that assembles and runs a site is in ``openbms.service``.
"""
