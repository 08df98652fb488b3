"""Dify's External Knowledge API against the real app and a real index (generated PDFs, MiniLM,
Chroma), with requests shaped as Dify sends them: `POST {endpoint}/retrieval`, the JSON body
serialised by hand (`data=json.dumps(...)`, as Dify's ExternalDatasetService does), headers
`Content-Type: application/json` and `Authorization: Bearer <key>`; and Dify's check of a new
endpoint, a POST with the key and no body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from retrieval.search import search
from services import knowledge
from services.keys import create_key
from tests.web.conftest import build_index, web_settings
from web.app import create_app

ENDPOINT = "/api/v1/dify"
RESET_Q = "How do I do a factory reset of the router?"


@pytest.fixture(scope="module")
def app_and_keys(
    tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("dify") / "index"
    build_index(data_dir, manuals)  # pump → default, router → network
    with TestClient(create_app(web_settings(data_dir, auth=True))) as client:
        store = client.app.state.rt.store
        _, network = create_key(store, "dify-network", collections=["network"], read_only=True)
        _, everything = create_key(store, "dify-all")
        yield client, {"network": network, "all": everything}


@pytest.fixture(scope="module")
def client(app_and_keys) -> TestClient:
    return app_and_keys[0]


@pytest.fixture(scope="module")
def keys(app_and_keys) -> dict[str, str]:
    return app_and_keys[1]


def dify_post(
    client: TestClient,
    key: str | None,
    knowledge_id: str,
    query: str,
    top_k: int | None = 2,
    score_threshold: float = 0.0,
    metadata_condition: dict | None = None,
):
    """The request as Dify builds it (api/services/external_knowledge_service.py)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    params: dict = {
        "retrieval_setting": {"top_k": top_k, "score_threshold": score_threshold},
        "query": query,
        "knowledge_id": knowledge_id,
    }
    if metadata_condition:
        params["metadata_condition"] = metadata_condition
    return client.post(f"{ENDPOINT}/retrieval", headers=headers, content=json.dumps(params))


def _records(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["records"]


def test_records_carry_content_score_title_and_page_metadata(
    client: TestClient, keys: dict[str, str]
) -> None:
    records = _records(dify_post(client, keys["network"], "network", RESET_Q, top_k=2))
    assert 1 <= len(records) <= 2
    best = records[0]
    assert set(best) == {"content", "score", "title", "metadata"}
    assert "hold the reset button for 10 seconds" in best["content"]
    assert best["title"] == "Netgate R7 Router Guide"
    meta = best["metadata"]
    assert meta["doc"] == "netgate-r7.pdf" and meta["collection"] == "network"
    assert meta["page"] == 1 and meta["page_label"] in (None, "1")
    assert meta["locator"] == "p. 1"
    assert meta["url"] == f"http://testserver/files/{meta['doc_id']}#page=1"
    assert all(0.0 < r["score"] <= 1.0 for r in records)
    # the link opens the original with the same key
    path = meta["url"].removeprefix("http://testserver").split("#")[0]
    pdf = client.get(path, headers={"Authorization": f"Bearer {keys['network']}"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_score_is_the_cosine_and_the_threshold_filters_on_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    records = _records(dify_post(client, keys["all"], "default", "pump overheated error E42", 4))
    scores = [r["score"] for r in records]
    assert len(scores) >= 3 and len(set(scores)) > 1
    rt = client.app.state.rt
    vector = rt.embedder.embed_query("pump overheated error E42", threads=1)
    hits = search(rt.pool, rt.embedder, rt.settings, "pump overheated error E42", k=4,
                  collections=["default"])  # fmt: skip
    stored = rt.pool.get().vectors([p.chunk.id for p in hits.passages])
    expected = [round(float(np.dot(stored[p.chunk.id], vector)), 4) for p in hits.passages]
    assert scores == pytest.approx(expected, abs=2e-4)
    assert records[0]["metadata"]["page"] == 3  # the E42 page first
    middle = sorted(scores)[len(scores) // 2]
    kept = _records(dify_post(client, keys["all"], "default", "pump overheated error E42", 4,
                              score_threshold=middle))  # fmt: skip
    assert [r["score"] for r in kept] == [s for s in scores if s >= middle]
    assert _records(dify_post(client, keys["all"], "default", "pump E42", 4, 1.0)) == []


def test_a_passage_without_a_dense_cosine_gets_its_stored_vector_cosine(
    client: TestClient,
) -> None:
    rt = client.app.state.rt
    query = "Replace the impeller every 2000 hours"
    hits = search(rt.pool, rt.embedder, rt.settings, query, k=3, collections=["default"])
    with_dense = knowledge.cosines(rt, query, hits)
    hits.cosine = {}  # as for passages BM25 alone found
    from_vectors = knowledge.cosines(rt, query, hits)
    assert set(from_vectors) == {p.chunk.id for p in hits.passages}
    for cid, value in with_dense.items():
        assert from_vectors[cid] == pytest.approx(value, abs=1e-4)


def test_top_k_bounds_the_records(client: TestClient, keys: dict[str, str]) -> None:
    one = _records(dify_post(client, keys["all"], "default", "pump", top_k=1))
    assert len(one) == 1
    many = _records(dify_post(client, keys["all"], "default", "pump", top_k=10_000))
    assert 1 < len(many) <= knowledge.MAX_K
    default = _records(dify_post(client, keys["all"], "default", "pump", top_k=None))
    assert 1 <= len(default) <= client.app.state.rt.settings.top_k


def test_metadata_conditions_filter_records(client: TestClient, keys: dict[str, str]) -> None:
    on_page_2 = {"name": ["page"], "comparison_operator": "=", "value": 2}
    page2 = {"logical_operator": "and", "conditions": [on_page_2]}
    records = _records(dify_post(client, keys["all"], "default", "pump", 4, 0.0, page2))
    assert records and {r["metadata"]["page"] for r in records} == {2}
    either = {"logical_operator": "or", "conditions": [
        {"name": "page_label", "comparison_operator": "is", "value": "1"},
        {"name": "locator", "comparison_operator": "end with", "value": "4"},
    ]}  # fmt: skip
    records = _records(dify_post(client, keys["all"], "default", "pump", 4, 0.0, either))
    assert records and {r["metadata"]["page"] for r in records} <= {1, 4}
    dated = {"conditions": [{"name": "doc", "comparison_operator": "before", "value": "2024"}]}
    r = dify_post(client, keys["all"], "default", "pump", 4, 0.0, dated)
    assert r.status_code == 422 and "compares dates" in r.json()["error"]["message"]


def _dify_error(response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert body["error_msg"] and body["error"]["message"] == body["error_msg"]
    return body["error_msg"]


def test_authorization_errors_use_difys_codes(client: TestClient, keys: dict[str, str]) -> None:
    assert "Bearer" in _dify_error(dify_post(client, None, "network", RESET_Q), 403, 1001)
    r = client.post(
        f"{ENDPOINT}/retrieval",
        headers={"Authorization": f"Basic {keys['network']}", "Content-Type": "application/json"},
        content=json.dumps({"knowledge_id": "network", "query": RESET_Q,
                            "retrieval_setting": {"top_k": 2, "score_threshold": 0.0}}),
    )  # fmt: skip
    _dify_error(r, 403, 1001)
    message = _dify_error(dify_post(client, "folio_not-a-key", "network", RESET_Q), 403, 1002)
    assert "not valid" in message


def test_a_collection_the_key_may_not_read_does_not_exist_for_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    for knowledge_id in ("default", "no-such-collection"):
        message = _dify_error(dify_post(client, keys["network"], knowledge_id, "pump"), 404, 2001)
        assert knowledge_id in message and "network" in message  # names what it may read
    assert _records(dify_post(client, keys["all"], "network", RESET_Q))


def test_difys_endpoint_check_passes_with_a_valid_key_and_fails_with_a_wrong_one(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Dify saves an External Knowledge API after POSTing to it with the key and no body; it
    refuses the endpoint on 403, 404 and 502 only."""
    ok = client.post(f"{ENDPOINT}/retrieval", headers={"Authorization": f"Bearer {keys['all']}"})
    assert ok.status_code not in (403, 404, 502) and ok.status_code == 422
    bad = client.post(f"{ENDPOINT}/retrieval", headers={"Authorization": "Bearer wrong"})
    _dify_error(bad, 403, 1002)


def test_without_auth_the_local_user_needs_no_key(
    tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> None:
    data_dir = tmp_path_factory.mktemp("dify-local") / "index"
    build_index(data_dir, manuals)
    with TestClient(create_app(web_settings(data_dir))) as local:
        assert _records(dify_post(local, None, "network", RESET_Q))


@pytest.mark.parametrize(
    ("op", "value", "field", "expected"),
    [
        ("contains", "pump", "Aquila Pump Manual", True),
        ("not contains", "pump", "Aquila Pump Manual", False),
        ("start with", "aquila", "Aquila Pump Manual", True),
        ("end with", "guide", "Aquila Pump Manual", False),
        ("is", "3", 3, True),
        ("is not", "3", 3, False),
        ("in", ["2", "3"], 3, True),
        ("not in", ["2", "3"], 3, False),
        ("empty", None, None, True),
        ("not empty", None, "", False),
        ("=", 3, 3, True),
        ("≠", 3, 3, False),
        (">", 2, 3, True),
        ("<", 2, 3, False),
        ("≥", 3, 3, True),
        ("≤", 2.5, 3, False),
        (">", 2, None, False),
    ],
)
def test_each_comparison_operator(op: str, value, field, expected: bool) -> None:
    condition = knowledge.Condition(("x",), op, value)
    assert knowledge.matches({"x": field}, [condition], "and") is expected
