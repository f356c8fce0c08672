"""Who may call the API: sign-in, tokens, accounts, roles, permissions, WebSocket auth.

    passwords.py    Argon2id hashing (no database, no request)
    tokens.py       JWT access tokens and their signing key
    roles.py        the roles and the permissions each carries: the table the API is checked against
    principal.py    a request's bearer token, checked, becomes a ``Principal``
    permissions.py  ``public()``, ``authenticated()``, ``require(permission)``: every route declares one
    refusals.py     the audit of refused requests (``access.denied``), folded per minute
    websocket.py    the token of a WebSocket at connect, and its user read again while it stays open

The accounts themselves (users, site grants, login failures, refresh families,
API tokens) are rows of the state database: ``openbms.db.accounts``, which the
API calls and never bypasses with SQL of its own. The sign-in endpoints
(login, refresh, logout) are a resource: ``openbms.api.routes.auth``.
Import from the modules; this package re-exports nothing, so importing one
of them never drags the others (and their database) in.
"""
