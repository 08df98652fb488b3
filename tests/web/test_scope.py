"""Asking within chosen manuals over HTTP: the API's `doc_ids`, the Ask page's manual picker and
the manuals page's "Ask this manual" (real index of generated PDFs, no LLM)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from folio.index import MAX_DOC_IDS
from tests.web.conftest import build_index, web_settings
from web.app import create_app

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("scope") / "index"
    build_index(data_dir, manuals)  # pump → default, router → network
    with TestClient(create_app(web_settings(data_dir))) as c:
        yield c


@pytest.fixture(scope="module")
def ids(client: TestClient) -> dict[str, str]:
    docs = client.get("/api/v1/documents").json()["documents"]
    return {d["file"].split("-")[0]: d["id"] for d in docs}  # aquila → pump, netgate → router


def _files(passages: list[dict]) -> set[str]:
    return {p["doc"] for p in passages}


def test_search_and_ask_within_one_manual(client: TestClient, ids: dict[str, str]) -> None:
    # a pump question asked of the router guide: its passages, never the pump manual's
    body = {"query": "How do I prime the pump?", "doc_ids": [ids["netgate"]]}
    for mode in ("hybrid", "dense", "bm25"):
        r = client.post("/api/v1/search", json={**body, "mode": mode})
        assert r.status_code == 200, r.text
        assert _files(r.json()["passages"]) <= {"netgate-r7.pdf"}
    r = client.post("/api/v1/search", json=body)
    assert _files(r.json()["passages"]) == {"netgate-r7.pdf"}
    r = client.post(
        "/api/v1/ask",
        json={"question": "factory reset", "doc_ids": [ids["aquila"]], "retrieval_only": True},
    )
    assert r.status_code == 200, r.text
    assert _files(r.json()["passages"]) == {"aquila-pump.pdf"}


def test_collection_and_doc_ids_both_apply(client: TestClient, ids: dict[str, str]) -> None:
    both = [ids["aquila"], ids["netgate"]]
    r = client.post(
        "/api/v1/search", json={"query": "reset", "collections": ["network"], "doc_ids": both}
    )
    assert _files(r.json()["passages"]) == {"netgate-r7.pdf"}
    r = client.post(
        "/api/v1/search",
        json={"query": "reset", "collections": ["network"], "doc_ids": [ids["aquila"]]},
    )
    assert r.status_code == 200 and r.json()["passages"] == []


def test_too_many_doc_ids_is_422_with_the_limit(client: TestClient, ids: dict[str, str]) -> None:
    many = [f"{i:016x}" for i in range(MAX_DOC_IDS)]
    ok = client.post(
        "/api/v1/search", json={"query": "reset", "doc_ids": [*many[1:], ids["netgate"]]}
    )
    assert ok.status_code == 200 and _files(ok.json()["passages"]) == {"netgate-r7.pdf"}
    too_many = [*many, ids["netgate"]]
    for path, body in (
        ("/api/v1/search", {"query": "reset", "doc_ids": too_many}),
        ("/api/v1/ask", {"question": "reset", "doc_ids": too_many, "retrieval_only": True}),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request"
        assert "doc_ids" in error["message"] and str(MAX_DOC_IDS) in error["message"]


def test_manuals_page_links_each_manual_to_the_ask_page(
    client: TestClient, ids: dict[str, str]
) -> None:
    html = client.get("/manuals").text
    for doc_id in ids.values():
        assert f'href="/?doc={doc_id}"' in html
    assert html.count(">Ask this manual</a>") == len(ids)
    assert 'aria-label="Ask this manual: Netgate R7 Router Guide"' in html
    zh = client.get("/manuals", headers=ZH).text
    assert ">向此手册提问</a>" in zh


def _checked(html: str) -> set[str]:
    return set(re.findall(r'name="doc" value="([0-9a-f]+)"[^>]*\schecked', html))


def _listed(html: str) -> set[str]:
    return set(re.findall(r'name="doc" value="([0-9a-f]+)"', html))


def test_ask_page_has_a_manual_picker(client: TestClient, ids: dict[str, str]) -> None:
    html = client.get("/").text
    assert 'id="collection"' in html and 'id="manual-picker"' in html
    assert _listed(html) == set(ids.values()) and _checked(html) == set()
    assert '<span id="manual-summary">All manuals</span>' in html
    assert 'id="manual-filter"' in html and 'hx-get="/ui/manual-picker"' in html
    # "Ask this manual": that manual chosen, named in the picker's summary
    html = client.get(f"/?doc={ids['netgate']}").text
    assert _checked(html) == {ids["netgate"]}
    assert '<span id="manual-summary">Netgate R7 Router Guide</span>' in html
    html = client.get(f"/?doc={ids['netgate']}&doc={ids['aquila']}").text
    assert _checked(html) == set(ids.values())
    assert '<span id="manual-summary">2 manuals</span>' in html
    # unknown ids are ignored; the page is in Chinese when asked
    assert _checked(client.get("/?doc=0000000000000000").text) == set()
    zh = client.get(f"/?doc={ids['netgate']}", headers=ZH).text
    assert "手册集" in zh and "输入标题或文件名的一部分" in zh and "检索全部手册" in zh


def test_picker_follows_the_collection(client: TestClient, ids: dict[str, str]) -> None:
    chosen = f"doc={ids['netgate']}&doc={ids['aquila']}"
    html = client.get(f"/ui/manual-picker?collection=network&{chosen}").text
    assert _listed(html) == _checked(html) == {ids["netgate"]}  # the pump is not in `network`
    html = client.get(f"/ui/manual-picker?collection=&doc={ids['aquila']}").text
    assert _listed(html) == set(ids.values()) and _checked(html) == {ids["aquila"]}
    html = client.get("/ui/manual-picker?collection=nothing-here").text
    assert _listed(html) == set() and "No manuals here yet." in html
