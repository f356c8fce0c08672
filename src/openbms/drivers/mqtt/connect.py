"""How openbms signs in to an MQTT broker: secrets from the environment or a file, and TLS.

One set of connection settings, with the same key names wherever a broker is
configured: the driver's ``drivers: mqtt:``, the site's ``mqtt:`` section (the
telemetry bridge's link and command/response) and the command line::

    username_env | username_file ──▶ secret()      ──▶ aiomqtt.Client(username=…, password=…,
    password_env | password_file ──▶ secret()      ──▶                tls_context=…)
    tls, ca_file, cert_file, key_file ──▶ tls_context()

A secret is never written in the site file: ``KEY_env`` names an environment
variable and ``KEY_file`` a file (its one trailing newline is dropped; other
spaces may be part of the secret; a password or token file of a service that
every user of the machine may read is used, with a WARNING, once per file, to
chmod 600 it; the command line, which gives no ``place``, says nothing).
Every error is a ``DriverError`` whose
message starts with the setting's place (``drivers: mqtt: password_file: …``,
``mqtt: ca_file: …``), given by the caller.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openbms.errors import DriverError

__all__ = ["SECRET_KEYS", "TLS_KEYS", "LibraryLog", "secret", "tls_context"]

#: The settings a secret comes from (a plain ``username:`` or ``password:`` is refused).
SECRET_KEYS = ("username_env", "username_file", "password_env", "password_file")
#: Secret files already warned about for their permissions (once per file and process).
_warned_modes: set[str] = set()
log = logging.getLogger(__name__)
#: The TLS settings: ``tls: true`` alone uses the system's CA certificates.
TLS_KEYS = ("tls", "ca_file", "cert_file", "key_file")

Spell = Callable[[str], str]


def _plain(key: str) -> str:
    return key


def secret(settings: Mapping[str, Any], key: str, place: str, spell: Spell = _plain) -> str | None:
    """The secret ``key`` (``username`` or ``password``) from ``KEY_env`` (an environment
    variable's name) or ``KEY_file`` (a file); None when neither is given.

    ``place`` starts every error message (``drivers: mqtt``; "" for none); ``spell`` names a key
    as the user wrote it (the command line's ``--password-file``).
    """
    at = f"{place}: " if place else ""
    if settings.get(key) is not None:
        raise DriverError(f"{at}{spell(key)}: secrets are not written in the site file; give "
                          f"{spell(key + '_env')} (an environment variable's name) or "
                          f"{spell(key + '_file')} (a file)")
    env, path = settings.get(f"{key}_env"), settings.get(f"{key}_file")
    if env and path:
        raise DriverError(f"{at}{spell(key + '_env')} and {spell(key + '_file')}: give one "
                          "of them, not both")
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise DriverError(f"{at}{spell(key + '_env')}: the environment variable {env} is "
                              "not set")
        return value
    if path:
        try:
            text = Path(str(path)).read_text()
        except OSError as err:
            raise DriverError(f"{at}{spell(key + '_file')}: cannot read {path}: "
                              f"{err.strerror}") from None
        except UnicodeDecodeError:
            raise DriverError(f"{at}{spell(key + '_file')}: {path} is not UTF-8 text"
                              ) from None
        if key != "username" and place:  # a service's; the command line's output stays its own
            _check_mode(Path(str(path)), f"{at}{spell(key + '_file')}")
        return text.removesuffix("\n").removesuffix("\r")  # spaces may be part of it
    return None


def _check_mode(path: Path, where: str) -> None:
    """A WARNING (once per file) when every user of the machine may read or write the secret
    file ``path``, as Mosquitto warns of its own password file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o006 and str(path) not in _warned_modes:
        _warned_modes.add(str(path))
        log.warning("%s: every user of this machine may read or change %s (mode %o): chmod 600 it "
                    "(or 640 with a group of its own)", where, path, mode & 0o777)


def tls_context(settings: Mapping[str, Any], place: str,
                spell: Spell = _plain) -> ssl.SSLContext | None:
    """A client TLS context from ``tls``, ``ca_file``, ``cert_file`` and ``key_file``; None when
    none is given (a plain connection).

    ``ca_file`` is the CA bundle that signed the broker's certificate (default: the system's);
    ``cert_file`` and ``key_file`` are the client certificate and its key, for a broker that
    requires one (``require_certificate true``). ``place`` and ``spell`` as for ``secret``.
    """
    at = f"{place}: " if place else ""
    tls = settings.get("tls") or False
    if not isinstance(tls, bool):
        raise DriverError(f"{at}{spell('tls')}: {tls!r}; expected true or false")
    ca, cert, key = settings.get("ca_file"), settings.get("cert_file"), settings.get("key_file")
    if not (tls or ca or cert or key):
        return None
    if key and not cert:
        raise DriverError(f"{at}{spell('key_file')}: a key without {spell('cert_file')} (the "
                          "client certificate it goes with)")
    try:
        ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as err:
        raise DriverError(f"{at}{spell('ca_file')}: cannot use {ca} as a CA bundle (PEM): "
                          f"{_why(err)}") from None
    ctx.sslsocket_class = _ClosingSocket
    if cert:
        try:
            ctx.load_cert_chain(str(cert), str(key) if key else None)
        except (OSError, ssl.SSLError) as err:
            files = f"{cert} and {key}" if key else str(cert)
            raise DriverError(f"{at}{spell('cert_file')}, {spell('key_file')}: cannot use "
                              f"{files} as a client certificate and its key (PEM): {_why(err)}"
                              ) from None
    return ctx


class LibraryLog(logging.LoggerAdapter[logging.Logger]):
    """The logger to give aiomqtt (``aiomqtt.Client(logger=cast(logging.Logger, log))``), which
    hands it to paho: their warnings and errors are kept in ``last`` and logged at debug level
    only. paho logs why a connection failed (a TLS alert: the broker wants a client certificate)
    at error level at every attempt, while aiomqtt reports only "Operation timed out"; ``why``
    puts the two together, for a message said once."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.getLogger(name), {})
        self.last = ""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.WARNING:
            try:
                self.last = str(msg) % args if args else str(msg)
            except (TypeError, ValueError):
                self.last = str(msg)
        self.logger.debug(msg, *args, **kwargs)

    def why(self, err: BaseException) -> str:
        """``err``'s text, with what the library said before it (reset ``last`` before each
        attempt to connect)."""
        text = str(err) or type(err).__name__
        return f"{text} ({self.last})" if self.last and self.last not in text else text


class _ClosingSocket(ssl.SSLSocket):
    """A TLS socket that closes itself when its handshake fails (the broker refused the client
    certificate, or its own was not trusted): paho leaves it to the garbage collector, a file
    descriptor held and a ResourceWarning at each attempt to connect."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _why(err: OSError | ssl.SSLError) -> str:
    if isinstance(err, ssl.SSLError):
        return err.reason or str(err)
    return err.strerror or str(err)
