"""The REST driver's settings and HTTP profiles, and what a ``rest://`` binding means; no httpx.

::

    drivers:
      rest:
        base_url: https://api.vendor.example     # the vendor's API
        profile: thermostat                      # a shipped profile, or the profile itself (a mapping)
        auth: {type: oauth2, token_url: /oauth/token, client_id: openbms,
               client_secret_env: VENDOR_SECRET}
        rate_limit: 5                            # requests per second to the host (0: no limit)
        webhook: {secret_env: VENDOR_WEBHOOK_SECRET}
        devices:
          thermostat-1: {id: T-100}              # our name: the vendor's device id

A binding names a device, one of the profile's resources and a JSON field in
it: ``rest://thermostat-1/status#setpoint``, ``rest://thermostat-1/status#limits.max_setpoint``,
``rest://thermostat-1/schedule#monday.0.setpoint`` (a number is a list index).
Options: ``states=off,heat,cool,auto`` turns a text field into an enum's state
number (1 is the first) and back for writes; ``write=NAME`` picks the
profile's write (default: the write named like the field, else like the
resource); ``unit=F`` is the
``{unit}`` of the write's body (default: the write's ``unit``).

A profile is data: ``resources`` (name → path, with ``{id}`` the vendor's device
id), ``writes`` (name → method, path and a JSON body template where the string
``"{value}"`` is the value itself, ``"{resource}"`` the resource as just read
with the point's field changed, and ``{unit}``/``{id}`` are replaced inside
strings) and ``webhook`` (where a pushed payload holds the device id and the
values, and which resource they stand for). Every problem is reported at its
key, so ``openbms check`` names its line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openbms.errors import BindingError
from openbms.model.binding import Binding

__all__ = ["PROFILES", "Auth", "Profile", "RestConfig", "check_binding", "point_spec",
           "read_config", "select", "settings_problems"]

PLACE = "drivers: rest"

#: The shipped profiles: the REST shape the reference systems describe.
PROFILES: dict[str, dict[str, Any]] = {
    "thermostat": {
        "resources": {
            "status": {"path": "/devices/{id}/status"},
            "schedule": {"path": "/devices/{id}/schedule"},
        },
        "writes": {
            "setpoint": {"method": "POST", "path": "/devices/{id}/setpoint",
                         "body": {"value": "{value}", "unit": "{unit}"}, "unit": "C"},
            "mode": {"method": "POST", "path": "/devices/{id}/mode", "body": {"mode": "{value}"}},
            "schedule": {"method": "PUT", "path": "/devices/{id}/schedule", "body": "{resource}"},
        },
        "webhook": {"device": "device", "values": "status", "resource": "status"},
    },
}

AUTH_TYPES = ("none", "api_key", "bearer", "oauth2")
#: Per auth type: its settings (secrets as KEY_env / KEY_file), and the ones it needs.
_AUTH_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "api_key": (("key", "header"), ("key",)),
    "bearer": (("token",), ("token",)),
    "oauth2": (("token_url", "client_id", "client_secret", "scope", "refresh_margin"),
               ("token_url", "client_id", "client_secret")),
}
SECRETS = ("key", "token", "client_secret", "secret")
_METHODS = ("GET", "POST", "PUT", "PATCH")
_OPTIONS = ("states", "write", "unit")
#: Every driver's settings (``DriverSettings``), allowed beside the REST ones.
COMMON = ("enabled", "poll_interval", "timeout", "retries", "max_backoff")
_NUMBERS: dict[str, tuple[float, float, bool]] = {  # key → (low, high, whole)
    "rate_limit": (0, 10_000, False),
    "request_timeout": (0.01, 600, False),
    "http_retries": (0, 10, True),
    "backoff": (0, 60, False),
}
_TOP = ("base_url", "profile", "auth", "webhook", "devices", *_NUMBERS)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

Problem = tuple[tuple[str | int, ...], str]


# ---------------------------------------------------------------------- profiles


@dataclass(frozen=True, slots=True)
class Write:
    """How one kind of value is written: method, path, body template, default ``{unit}``."""

    method: str
    path: str
    body: Any
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """An HTTP profile: resources read, writes, and where a webhook payload holds its values."""

    resources: Mapping[str, str]  # name → path with {id}
    writes: Mapping[str, Write]
    webhook_device: tuple[str, ...] = ("device",)
    webhook_values: tuple[str, ...] = ("status",)
    webhook_resource: str = "status"


def _selector(text: Any) -> tuple[str, ...] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    parts = tuple(text.split("."))
    return parts if all(parts) else None


def select(doc: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """The value at ``path`` in a JSON document: (found, value); a number indexes a list."""
    for part in path:
        if isinstance(doc, Mapping) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return False, None
    return True, doc


def profile_problems(profile: Any, where: tuple[str | int, ...] = ("profile",)) -> list[Problem]:
    """Every problem of a profile given as a mapping (or a shipped profile's name)."""
    at = f"{PLACE}: {': '.join(map(str, where))}"
    if isinstance(profile, str):
        if profile not in PROFILES:
            return [(where, f"{at}: no shipped profile {profile!r}; expected one of "
                            f"{', '.join(PROFILES)} or the profile itself (resources, writes, webhook)")]
        return []
    if not isinstance(profile, Mapping):
        return [(where, f"{at}: expected a shipped profile's name ({', '.join(PROFILES)}) or a "
                        "mapping with resources, writes and webhook")]
    out: list[Problem] = []
    for key in profile:
        if key not in ("resources", "writes", "webhook"):
            out.append(((*where, key), f"{at}: unknown key {key}; expected resources, writes, webhook"))
    resources = profile.get("resources")
    if not isinstance(resources, Mapping) or not resources:
        out.append(((*where, "resources") if resources is not None else where,
                    f"{at}: resources: expected a mapping of names to {{path: /devices/{{id}}/status}}"))
        resources = {}
    for name, spec in resources.items():
        out += _request_problems(spec, (*where, "resources", name), ("GET",), write=False)
    writes = profile.get("writes") or {}
    if not isinstance(writes, Mapping):
        out.append(((*where, "writes"), f"{at}: writes: expected a mapping of names to "
                                        "{method, path, body}"))
        writes = {}
    for name, spec in writes.items():
        out += _request_problems(spec, (*where, "writes", name), ("POST", "PUT", "PATCH"), write=True)
    hook = profile.get("webhook")
    if hook is not None:
        if not isinstance(hook, Mapping):
            out.append(((*where, "webhook"), f"{at}: webhook: expected {{device, values, resource}}"))
        else:
            for key, value in hook.items():
                if key not in ("device", "values", "resource"):
                    out.append(((*where, "webhook", key), f"{at}: webhook: unknown key {key}; "
                                                          "expected device, values, resource"))
                elif key == "resource" and value not in resources:
                    out.append(((*where, "webhook", key), f"{at}: webhook: resource: {value!r} is "
                                f"not one of the resources ({', '.join(map(str, resources))})"))
                elif key != "resource" and _selector(value) is None:
                    out.append(((*where, "webhook", key), f"{at}: webhook: {key}: {value!r}; "
                                                          "expected a field such as status or data.id"))
    return out


def _request_problems(spec: Any, where: tuple[str | int, ...], methods: tuple[str, ...],
                      write: bool) -> list[Problem]:
    at = f"{PLACE}: {': '.join(map(str, where))}"
    if not isinstance(spec, Mapping):
        return [(where, f"{at}: expected a mapping such as {{path: /devices/{{id}}/status}}")]
    allowed = ("method", "path", "body", "unit") if write else ("method", "path")
    out: list[Problem] = [((*where, k), f"{at}: unknown key {k}; expected {', '.join(allowed)}")
                          for k in spec if k not in allowed]
    path = spec.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        out.append(((*where, "path") if path is not None else where,
                    f"{at}: path: {path!r}; expected a path from the base URL such as "
                    "/devices/{id}/status"))
    method = spec.get("method", methods[0])
    if not isinstance(method, str) or method.upper() not in methods:
        out.append(((*where, "method"), f"{at}: method: {method!r}; expected one of "
                                        f"{', '.join(methods)}"))
    if write and "body" not in spec:
        out.append((where, f"{at}: no body; expected a JSON template such as "
                           "{value: \"{value}\", unit: \"{unit}\"}"))
    return out


def read_profile(profile: Any) -> Profile:
    """A checked profile (a shipped name or a mapping); ``ValueError`` with its first problem."""
    problems = profile_problems(profile)
    if problems:
        raise ValueError(problems[0][1])
    raw = PROFILES[profile] if isinstance(profile, str) else profile
    hook = raw.get("webhook") or {}
    return Profile(
        resources={str(k): v["path"] for k, v in raw["resources"].items()},
        writes={str(k): Write(str(v.get("method", "POST")).upper(), v["path"], v["body"],
                              str(v.get("unit", ""))) for k, v in (raw.get("writes") or {}).items()},
        webhook_device=_selector(hook.get("device", "device")) or ("device",),
        webhook_values=_selector(hook.get("values", "status")) or ("status",),
        webhook_resource=str(hook.get("resource", next(iter(raw["resources"])))),
    )


# ---------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class Auth:
    """How requests are signed; secrets are the names of where they are (``*_env``/``*_file``)."""

    type: str = "none"
    options: Mapping[str, Any] | None = None  # the auth mapping as given


@dataclass(frozen=True, slots=True)
class RestConfig:
    """The ``drivers: rest:`` settings, defaults filled in."""

    base_url: str
    profile: Profile
    auth: Auth
    devices: Mapping[str, str]  # our device name → the vendor's id
    webhook: Mapping[str, Any]
    rate_limit: float = 0.0
    request_timeout: float | None = None
    http_retries: int = 2
    backoff: float = 0.25


def _secret_problems(block: Mapping[str, Any], key: str, where: tuple[str | int, ...],
                     required: bool) -> list[Problem]:
    at = f"{PLACE}: {': '.join(map(str, where))}"
    if block.get(key) is not None:
        return [((*where, key), f"{at}: {key}: secrets are not written in the site file; give "
                                f"{key}_env (an environment variable's name) or {key}_file (a file)")]
    env, path = block.get(f"{key}_env"), block.get(f"{key}_file")
    if env and path:
        return [((*where, f"{key}_env"), f"{at}: {key}_env and {key}_file: give one of them, not both")]
    for name, given in ((f"{key}_env", env), (f"{key}_file", path)):
        if given is not None and (not isinstance(given, str) or not given.strip()):
            return [((*where, name), f"{at}: {name}: {given!r}; expected "
                                     f"{'a variable name' if name.endswith('_env') else 'a path'}")]
    if required and not env and not path:
        return [(where, f"{at}: no {key}; expected {key}_env (an environment variable's name) or "
                        f"{key}_file (a file)")]
    return []


def _auth_problems(auth: Any) -> list[Problem]:
    where: tuple[str | int, ...] = ("auth",)
    if not isinstance(auth, Mapping):
        return [(where, f"{PLACE}: auth: expected a mapping such as {{type: api_key, key_env: "
                        "VENDOR_KEY}")]
    kind = auth.get("type", "none")
    if kind not in AUTH_TYPES:
        return [(("auth", "type"), f"{PLACE}: auth: type: {kind!r}; expected one of "
                                   f"{', '.join(AUTH_TYPES)}")]
    keys, required = _AUTH_KEYS[kind]
    allowed = {"type"}
    for key in keys:
        allowed |= {key, f"{key}_env", f"{key}_file"} if key in SECRETS else {key}
    out: list[Problem] = [(("auth", k), f"{PLACE}: auth: unknown setting {k} for type {kind}; "
                                        f"expected {', '.join(sorted(allowed))}")
                          for k in auth if k not in allowed]
    for key in keys:
        if key in SECRETS:
            out += _secret_problems(auth, key, where, key in required)
        elif key in required and not isinstance(auth.get(key), str):
            out.append((where, f"{PLACE}: auth: no {key}; expected text"
                               + (" such as /oauth/token" if key == "token_url" else "")))
    margin = auth.get("refresh_margin")
    if margin is not None and (not isinstance(margin, int | float) or isinstance(margin, bool)
                               or not 0 <= margin <= 86_400):
        out.append((("auth", "refresh_margin"), f"{PLACE}: auth: refresh_margin: {margin!r}; "
                                                "expected seconds from 0 to 86400"))
    return out


def settings_problems(settings: Mapping[str, Any]) -> list[Problem]:
    """Every problem of the ``drivers: rest:`` settings, each at its key."""
    out: list[Problem] = []
    for key in settings:
        if key not in _TOP and key not in COMMON:
            out.append(((key,), f"{PLACE}: unknown setting {key}; expected {', '.join(_TOP)} "
                                f"(or {', '.join(COMMON)})"))
    url = settings.get("base_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        out.append((("base_url",) if url is not None else (),
                    f"{PLACE}: base_url: {url!r}; expected the API's address such as "
                    "https://api.vendor.example"))
    out += profile_problems(settings.get("profile", "thermostat"))
    if settings.get("auth") is not None:
        out += _auth_problems(settings["auth"])
    hook = settings.get("webhook")
    if hook is not None:
        if not isinstance(hook, Mapping):
            out.append((("webhook",), f"{PLACE}: webhook: expected {{secret_env: NAME}} or "
                                      "{secret_file: PATH}"))
        else:
            out += [(("webhook", k), f"{PLACE}: webhook: unknown setting {k}; expected "
                                     "secret_env or secret_file")
                    for k in hook if k not in ("secret_env", "secret_file", "secret")]
            out += _secret_problems(hook, "secret", ("webhook",), True)
    for key, (low, high, whole) in _NUMBERS.items():
        value = settings.get(key)
        if value is None:
            continue
        ok = isinstance(value, int if whole else int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            out.append(((key,), f"{PLACE}: {key}: {value!r}; expected {kind} from {low:g} to {high:g}"))
    devices = settings.get("devices")
    if devices is not None and not isinstance(devices, Mapping):
        out.append((("devices",), f"{PLACE}: devices: expected a mapping of device names to "
                                  "{id: VENDOR-ID}"))
    elif devices:
        for name, device in devices.items():
            if device is None:
                continue
            if not isinstance(device, Mapping):
                out.append((("devices", name), f"{PLACE}: devices: {name}: expected {{id: VENDOR-ID}}"))
                continue
            for key in device:
                if key != "id":
                    out.append((("devices", name, key), f"{PLACE}: devices: {name}: unknown "
                                                        f"setting {key}; expected id"))
            vid = device.get("id")
            if vid is not None and (not isinstance(vid, str | int) or isinstance(vid, bool)
                                    or not _NAME.match(str(vid))):
                out.append((("devices", name, "id"), f"{PLACE}: devices: {name}: id: {vid!r}; "
                            "expected the vendor's device id (letters, digits, . _ -)"))
    return out


def read_config(settings: Mapping[str, Any]) -> RestConfig:
    """The checked settings; ``ValueError`` with the first problem when there is one."""
    problems = settings_problems(settings)
    if problems:
        raise ValueError(problems[0][1])
    auth = settings.get("auth") or {}
    devices = {str(name): str((d or {}).get("id", name))
               for name, d in (settings.get("devices") or {}).items()}
    timeout = settings.get("request_timeout")
    return RestConfig(
        base_url=str(settings["base_url"]).rstrip("/"),
        profile=read_profile(settings.get("profile", "thermostat")),
        auth=Auth(str(auth.get("type", "none")), auth),
        devices=devices,
        webhook=settings.get("webhook") or {},
        rate_limit=float(settings.get("rate_limit") or 0.0),
        request_timeout=None if timeout is None else float(timeout),
        http_retries=int(settings.get("http_retries", 2)),
        backoff=float(settings.get("backoff", 0.25)),
    )


# ---------------------------------------------------------------------- bindings


@dataclass(frozen=True, slots=True)
class PointSpec:
    """What a ``rest://`` binding reads and writes."""

    resource: str
    field: tuple[str, ...]
    states: tuple[str, ...] = ()
    write: str | None = None  # the profile's write, None: read-only
    unit: str = ""


def point_spec(binding: Binding, profile: Profile) -> PointSpec:
    """The binding's resource, field and options; ``BindingError`` saying what is wrong."""
    at = f"binding {binding.uri!r}"
    resource = binding.path.strip("/")
    if resource not in profile.resources:
        raise BindingError(f"{at}: no resource {resource!r} in the profile; expected "
                           f"rest://DEVICE/RESOURCE#FIELD with RESOURCE one of "
                           f"{', '.join(profile.resources)}")
    field = _selector(binding.fragment)
    if field is None:
        raise BindingError(f"{at}: no field; expected #FIELD after the resource, such as "
                           f"rest://{binding.device}/{resource}#temperature")
    unknown = sorted(set(binding.params) - set(_OPTIONS))
    if unknown:
        raise BindingError(f"{at}: unknown option {unknown[0]}; expected {', '.join(_OPTIONS)}")
    states = tuple(s.strip() for s in binding.params.get("states", "").split(",") if s.strip())
    if "states" in binding.params and not states:
        raise BindingError(f"{at}: states: empty; expected labels such as states=off,heat,cool")
    write = binding.params.get("write")
    if write is not None and write not in profile.writes:
        raise BindingError(f"{at}: write: no write {write!r} in the profile; expected one of "
                           f"{', '.join(profile.writes) or 'none'}")
    if write is None and ".".join(field) in profile.writes:
        write = ".".join(field)
    elif write is None and resource in profile.writes:  # the whole resource written back
        write = resource
    unit = binding.params.get("unit", profile.writes[write].unit if write else "")
    return PointSpec(resource, field, states, write, unit)


def check_binding(binding: Binding, settings: Mapping[str, Any] | None = None) -> None:
    """Raise BindingError when the driver could not serve ``binding`` with these settings
    (for configuration checks, which import no HTTP library)."""
    settings = settings or {}
    try:
        profile = read_profile(settings.get("profile", "thermostat"))
    except ValueError:
        return  # the profile's own problems are reported at its keys, not per binding
    point_spec(binding, profile)
    at = f"binding {binding.uri!r}"
    devices = settings.get("devices")
    if isinstance(devices, Mapping) and devices and binding.device not in devices:
        raise BindingError(f"{at}: no REST device {binding.device!r}; expected one "
                           f"under {PLACE}: devices: (known: {', '.join(map(str, devices))})")
