"""Prometheus metrics, one registry per app (tests build several apps in one process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "folio_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "folio_http_request_duration_seconds",
            "Time to the end of the response (for streams: the whole stream)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_pages = Counter("folio_ingest_pages_total", "Pages ingested", registry=r)
        self.ingest_chunks = Counter("folio_ingest_chunks_total", "Chunks ingested", registry=r)
        self.ingest_jobs = Counter(
            "folio_ingest_jobs_total", "Finished ingest jobs", ["status"], registry=r
        )
        self.engine_errors = Counter(
            "folio_engine_errors_total", "LLM engine errors by type", ["type"], registry=r
        )
        self.answers = Counter("folio_answers_total", "Answers by mode", ["mode"], registry=r)
        self.limited = Counter(
            "folio_rate_limited_total", "Requests refused by a limit", ["limit"], registry=r
        )
        self.blocked = Counter(
            "folio_blocked_terms_total", "Questions refused and answers masked", ["where"],
            registry=r,
        )  # fmt: skip
        self._gauges: dict[str, Gauge] = {}

    def gauge(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        """A value read at scrape time (documents, queue length, engine up)."""
        g = Gauge(name, doc, registry=self.registry)
        g.set_function(fn)
        self._gauges[name] = g

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every request by its route template (never the raw path: bounded
    label values), as plain ASGI so streamed responses pass through untouched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            if path.startswith("/static"):
                path = "/static"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, path, str(status["code"])).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - started)
