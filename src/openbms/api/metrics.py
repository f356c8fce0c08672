"""Prometheus counters of the API, and the runtime's bus and historian numbers, as text.

Counted by a plain ASGI middleware (no per-request allocation beyond a dict
lookup); the route *template* is the label, never the raw path, so the
number of series stays bounded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbms.service.protocols import RemoteSites, Services

__all__ = ["Metrics", "MetricsMiddleware"]


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters kept by the API."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.logins = 0
        self.login_failures = 0
        self.refresh_reuse = 0

    def render(self, runtime: Services | None = None, rate_limited: int = 0) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        out: list[str] = [
            "# HELP openbms_api_requests_total HTTP requests answered, by route template, method and status.",
            "# TYPE openbms_api_requests_total counter",
        ]
        for (route, method, status), n in sorted(self.requests.items()):
            out.append(
                f'openbms_api_requests_total{{route="{_esc(route)}",method="{method}",status="{status}"}} {n}'
            )
        for name, help_, value in (
            ("openbms_api_logins_total", "Successful logins.", self.logins),
            (
                "openbms_api_login_failures_total",
                "Failed logins (wrong password, unknown account, locked).",
                self.login_failures,
            ),
            (
                "openbms_api_refresh_reuse_total",
                "Reused refresh tokens (their family was revoked).",
                self.refresh_reuse,
            ),
            ("openbms_api_rate_limited_total", "Requests refused by the rate limiter.", rate_limited),
        ):
            out += [f"# HELP {name} {help_}", f"# TYPE {name} counter", f"{name} {value}"]
        if runtime is not None:
            out += _runtime_metrics(runtime)
        return "\n".join(out) + "\n"


def _runtime_metrics(runtime: Services) -> list[str]:
    out: list[str] = []
    bs = runtime.bus.stats()
    out += [
        "# HELP openbms_bus_published_total Samples published on the bus.",
        "# TYPE openbms_bus_published_total counter",
        f"openbms_bus_published_total {bs.published}",
        "# HELP openbms_bus_events_total Events published on the bus.",
        "# TYPE openbms_bus_events_total counter",
        f"openbms_bus_events_total {bs.events}",
        "# HELP openbms_bus_subscriber_total Per subscriber: delivered, dropped, errors.",
        "# TYPE openbms_bus_subscriber_total counter",
    ]
    for sub, counts in sorted(bs.subscribers.items()):
        for what, n in sorted(counts.items()):
            if what != "waiting":
                out.append(f'openbms_bus_subscriber_total{{subscriber="{_esc(sub)}",what="{what}"}} {n}')
    hs = runtime.historian.stats()
    for field in ("received", "filtered", "stored", "dropped", "flushes", "late"):
        name = f"openbms_historian_{field}_total"
        out += [
            f"# HELP {name} Historian samples {field}.",
            f"# TYPE {name} counter",
            f"{name} {getattr(hs, field)}",
        ]
    out += [
        "# HELP openbms_historian_backlog Samples waiting to be written.",
        "# TYPE openbms_historian_backlog gauge",
        f"openbms_historian_backlog {hs.backlog}",
    ]
    for name, kind, help_, value in (
        ("openbms_historian_backlog_age_seconds", "gauge",
         "How long the oldest sample not yet written has waited.", hs.backlog_age),
        ("openbms_historian_write_errors_total", "counter",
         "Failed commits of accepted samples (retried).", hs.write_errors),
        ("openbms_historian_maintenance_errors_total", "counter",
         "Failed merges, rollup and retention passes (retried).",
         hs.maintenance_errors),
        ("openbms_historian_failing", "gauge",
         "1 while the historian's latest write or merge failed.", int(hs.failing)),
    ):
        out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {_num(value)}"]
    out += _health_metrics(runtime.health())
    if isinstance(runtime, RemoteSites):
        out += _central_metrics(runtime, [s.site.id for s in runtime.sites])
    return out


def _central_metrics(runtime: RemoteSites, sites: list[str]) -> list[str]:
    """A central openbms's lag over its sites: the largest and how many are behind (no site id
    here: the metrics are public; each site's lag is in its API, per the user's roles)."""
    lags = [lag for site in sites if (lag := runtime.site_lag(site)) is not None]
    known = [lag.lag_s for lag in lags if lag.lag_s is not None]
    out: list[str] = []
    for name, help_, value in (
        ("openbms_central_lag_max_seconds",
         "The largest lag over the sites: the centre's clock less a site's newest stored sample.",
         max(known, default=None)),
        ("openbms_central_sites_behind",
         "Sites whose lag is past the warning threshold, or with no sample yet.",
         sum(1 for lag in lags if lag.behind)),
        ("openbms_central_sites", "Sites the centre serves.", len(lags)),
    ):
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {_num(value)}"]
    return out


def _num(value: float | int | None) -> str:
    """A sample value; NaN when unknown (Prometheus' way)."""
    return "NaN" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _health_metrics(components: dict[str, dict[str, Any]]) -> list[str]:
    """The figures of health's disk and event-loop checks, and each check's state."""
    disk = components.get("disk", {})
    loop = components.get("event_loop", {})
    out: list[str] = []
    for name, help_, value in (
        ("openbms_disk_free_bytes", "Free bytes on the data folder's filesystem.",
         disk.get("free_bytes")),
        ("openbms_disk_total_bytes", "Size of the data folder's filesystem.", disk.get("total_bytes")),
        ("openbms_event_loop_lag_p99_seconds",
         "99th percentile of the event loop's wake-up delay over the watchdog's window.",
         loop.get("lag_p99_s")),
        ("openbms_event_loop_lag_max_seconds",
         "Worst event loop wake-up delay over the watchdog's window.", loop.get("lag_max_s")),
    ):
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {_num(value)}"]
    out += [
        "# HELP openbms_health_degraded 1 when a health check says degraded, by component.",
        "# TYPE openbms_health_degraded gauge",
    ]
    for component, result in sorted(components.items()):
        out.append(f'openbms_health_degraded{{component="{_esc(component)}"}} '
                   f"{int(result.get('status') != 'ok')}")
    return out


class MetricsMiddleware:
    """Counts every HTTP response by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "<unmatched>"
            self.metrics.requests[(template, scope.get("method", ""), status)] += 1
