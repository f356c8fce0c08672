"""Supervisory control: the arbiter, commands, schedules, control blocks and logic programs.

Protocol-independent: everything here speaks points (ids, values, samples) and
reaches equipment only through the arbiter, which hands writes to the driver
manager. Nothing in this package imports a protocol library.
"""
