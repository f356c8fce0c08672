"""The live stream (``/api/v1/ws``) below its route: what is said on it, and each connection's life.

    protocol.py   the messages: settings, close codes, parsing and encoding (no I/O)
    session.py    one connection (subscriptions, sender, watchdog) and the hub of all of them

The route is ``openbms.api.routes.ws``; who is on a connection is
``openbms.api.auth.websocket``. This package re-exports nothing.
"""
