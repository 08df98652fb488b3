"""The OpenAPI schema declares what the API answers: schemathesis (tests/bench/fuzz_api.py)
sends valid and invalid requests to every operation of the real app on a real index, with an
API key, and no response is a server error or breaks the schema (undeclared status or content
type, a body of another shape). Bounded here; `python tests/bench/fuzz_api.py` runs longer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import web_settings
from web.app import create_app

fuzz_api = pytest.importorskip(
    "tests.bench.fuzz_api", reason="schemathesis is not installed (pip install -e .[dev])"
)


def test_every_operation_declares_its_errors_in_folios_shape(tmp_path: Path) -> None:
    with TestClient(create_app(web_settings(tmp_path / "index"))) as client:
        schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert "421" in responses, (method, path)
            if op.get("requestBody") or op.get("parameters"):
                ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if path.startswith(("/api/v1/documents", "/api/v1/ask", "/v1/")):
                assert {"401", "403", "429"} <= set(responses), (method, path)


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.python.asgi import shutdown_lifespans

    app, token = fuzz_api.build_app(tmp_path / "index")
    try:
        report = fuzz_api.fuzz(
            app, token, 5, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], seed=2
        )
    finally:
        shutdown_lifespans()
    assert report.requests > 100
    assert report.server_errors == 0, "\n".join(report.lines())
    assert report.schema_violations == 0, "\n".join(report.lines())


def test_a_body_that_is_not_json_is_a_400_saying_to_send_json(tmp_path: Path) -> None:
    with TestClient(create_app(web_settings(tmp_path / "index"))) as client:
        r = client.post(
            "/api/v1/search",
            content=b"\xd3ut\xa1\x81",
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "bad_request" and "send UTF-8 JSON" in error["message"]
