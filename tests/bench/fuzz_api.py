"""Schemathesis against Folio's OpenAPI schema, in process (ASGI transport), with an API key.

Every operation in /openapi.json gets `--max-examples` generated requests, valid ones
(positive) and, unless `--positive-only`, invalid ones (negative); each response is checked for
a server error (5xx) and for schema violations: a status the operation does not declare, a
content type it does not declare, a body that does not match the declared schema, declared
headers missing. Prints the failures by check and operation; exit 1 when there are any.

    python tests/bench/fuzz_api.py --max-examples 25

The app runs on a temporary index holding the two test manuals (tests/web/conftest.py), with
auth on and no LLM engine (answers are retrieval-only or 503, both declared).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import hypothesis  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, given  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import Failure, FailureGroup  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
SERVER_ERROR = "not_a_server_error"


@dataclass
class Report:
    requests: int = 0
    failures: Counter = field(default_factory=Counter)  # (check, operation, title) -> count
    examples: dict = field(default_factory=dict)  # (check, operation, title) -> one request

    @property
    def server_errors(self) -> int:
        return sum(n for (check, _, _), n in self.failures.items() if check == SERVER_ERROR)

    @property
    def schema_violations(self) -> int:
        return sum(n for (check, _, _), n in self.failures.items() if check != SERVER_ERROR)

    def lines(self) -> list[str]:
        out = [
            f"{self.requests} requests: {self.server_errors} server errors, "
            f"{self.schema_violations} schema violations"
        ]
        for (check, op, title), n in sorted(self.failures.items()):
            out.append(f"  {n:4d}  {check:30s} {op}: {title}")
            out.append(f"        e.g. {self.examples[(check, op, title)]}")
        return out


def build_app(data_dir: Path):
    """The real app on a real index of the test manuals, auth on, one API key."""
    from services.keys import create_key
    from tests.fixtures import make_pdf
    from tests.web.conftest import PUMP_PAGES, ROUTER_PAGES, build_index, web_settings
    from web.app import create_app

    manuals = {
        "pump": make_pdf(data_dir.parent / "aquila-pump.pdf", PUMP_PAGES, title="Aquila Pump"),
        "router": make_pdf(data_dir.parent / "netgate-r7.pdf", ROUTER_PAGES, title="Netgate R7"),
    }
    build_index(data_dir, manuals)
    app = create_app(web_settings(data_dir, auth=True))
    _, token = create_key(app.state.rt.store, "fuzz")
    return app, token


def fuzz(app, token: str, max_examples: int, modes: list[GenerationMode], seed: int) -> Report:
    """Schemathesis starts the app's lifespan once (worker, executor) and keeps it running."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = Report()
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            run = _runner(operation, mode, headers, report, max_examples, seed)
            # Unsatisfiable: nothing to make invalid (no parameters, no body)
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                run()
    return report


def _runner(operation, mode, headers: dict, report: Report, max_examples: int, seed: int):
    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        report.requests += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                key = (_check_name(failure), operation.label, failure.title)
                report.failures[key] += 1
                report.examples.setdefault(key, _describe(case, response))

    return run


def _check_name(failure: Failure) -> str:
    names = type(failure).checks
    return names[0] if names else type(failure).__name__


def _describe(case, response) -> str:
    body = repr(case.body)[:120] if isinstance(case.body, (str, bytes, dict, list)) else ""
    answer = response.text[:160].replace("\n", " ")
    where = f"{case.method} {case.formatted_path} {case.query or ''}"
    return f"{where} {body} -> {response.status_code} {answer}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25, help="Per operation and mode.")
    parser.add_argument("--positive-only", action="store_true", help="Valid requests only.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    modes = [GenerationMode.POSITIVE]
    if not args.positive_only:
        modes.append(GenerationMode.NEGATIVE)
    from schemathesis.python.asgi import shutdown_lifespans

    with tempfile.TemporaryDirectory() as tmp:
        app, token = build_app(Path(tmp) / "index")
        t0 = time.perf_counter()
        try:
            report = fuzz(app, token, args.max_examples, modes, args.seed)
        finally:
            shutdown_lifespans()  # stop the app before its index is deleted
        elapsed = time.perf_counter() - t0
    print("\n".join(report.lines()))
    print(f"{elapsed:.1f} s, max_examples={args.max_examples}, modes={[str(m) for m in modes]}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
