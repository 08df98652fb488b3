"""The server's in-memory BM25 gives FTS5's own scores (folio/bm25_memory.py)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from folio.bm25_memory import BM25Memory, fts_tokens
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from services.build import open_index

TRICKY = [
    "Café crème à la carte, naïve façade",
    "R_PAPERSIZE --no-site-file /etc/fstab low_battery",
    "x² 2⁶ footnote⁵ ①②",
    "安装 系统 打包 pbuilder chroot 镜像",
    "İstanbul STRASSE straße ǅemal",
    "tabs\tand\nnewlines, commas; dots.",
]


def test_tokens_are_those_of_the_fts5_tokenizer():
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = "
        "\"unicode61 remove_diacritics 2 tokenchars '_'\")"
    )
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    for i, text in enumerate(TRICKY):
        db.execute("INSERT INTO t (rowid, x) VALUES (?, ?)", (i + 1, text))
        fts = [term for (term,) in db.execute(
            "SELECT term FROM v WHERE doc = ? ORDER BY offset", (i + 1,))]  # fmt: skip
        assert fts_tokens(text) == fts, text


MANUALS = {
    "router.md": [
        "# Router R-200\nReset the router: hold RESET for 10 seconds until the LED blinks.",
        "## Ports\nThe WAN port takes the modem cable. LAN ports 1-4 are for computers.",
        "## Firmware\nSet FW_UPDATE_MODE to auto; the router installs firmware at night.",
        "## Wi-Fi\nThe Wi-Fi password is on the label; change it in the admin page.",
    ],
    "kettle.md": [
        "# Kettle K-1\nDescale the kettle monthly with citric acid; rinse twice.",
        "## Safety\nNever fill above MAX. Unplug the kettle before cleaning the filter.",
        "## Filter\nThe limescale filter lifts out; rinse the filter under the tap.",
    ],
    "watch.md": [
        "# 智能手表 W3\n长按侧键 10 秒可以重启手表。首次使用前请充电两小时。",
        "## 防水\n手表防水等级为 5ATM，可以游泳佩戴，但不能洗热水澡。",
        "## 表带\n按下表带背面的快拆按钮即可取下表带。Firmware 更新在手机应用中进行。",
    ],
}
QUESTIONS = [
    "How do I reset the router?",
    "which port is for the modem cable",
    "FW_UPDATE_MODE auto firmware",
    "clean the filter filter filter",
    "descale descaling kettle citric acid",
    "手表怎么重启",
    "手表可以游泳吗 防水等级",
    "怎么取下表带 firmware",
    "password label admin",
    "a question no manual answers: volcano",
]


def write_manuals(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("\n\n".join(MANUALS[name]), encoding="utf-8")
    return [folder / n for n in names]


def both(index, memory, query, **scope):
    index.bm25_memory = None
    fts = index.bm25(query, 10, **scope)
    index.bm25_memory = memory
    assert memory.sync(index.db, index.chunk_count())
    mem = index.bm25(query, 10, **scope)
    return fts, mem


def assert_same(index, memory):
    ids = {d.name: d.id for d in index.documents()}
    scopes = [{}, {"collections": ["home"]}, {"doc_ids": list(ids.values())[:1]}]
    compared = 0
    for query in QUESTIONS:
        for scope in scopes:
            fts, mem = both(index, memory, query, **scope)
            assert [c for c, _ in mem] == [c for c, _ in fts], (query, scope)
            assert [s for _, s in mem] == pytest.approx([s for _, s in fts], rel=1e-9)
            compared += bool(fts)
    assert compared >= 15  # most queries match something


@pytest.fixture
def library(tmp_path):
    settings = Settings(data_dir=tmp_path / "index")
    index, embedder = open_index(settings)
    yield settings, index, embedder, tmp_path
    index.close()


def test_scores_and_order_are_fts5s_as_manuals_come_and_go(library):
    settings, index, embedder, tmp = library
    memory = BM25Memory()
    ingest_paths(write_manuals(tmp / "a", ["router.md", "kettle.md"]), settings,
                 index=index, embedder=embedder, collection="home")  # fmt: skip
    assert_same(index, memory)
    ingest_paths(write_manuals(tmp / "b", ["watch.md"]), settings,
                 index=index, embedder=embedder, collection="wear")  # fmt: skip
    assert_same(index, memory)
    assert memory.loads == 2  # the watch came as a second segment, not a reload
    watch = next(d.id for d in index.documents() if d.name == "watch.md")
    assert index.delete(watch)
    assert_same(index, memory)
    # the next manual may take the removed one's rowids: the postings must not keep its words
    ingest_paths(write_manuals(tmp / "c", ["watch.md"]), settings,
                 index=index, embedder=embedder, collection="wear")  # fmt: skip
    assert_same(index, memory)


def test_the_server_asks_fts5_until_the_postings_are_loaded_in_the_background(library):
    settings, index, embedder, tmp = library
    ingest_paths(write_manuals(tmp / "a", ["router.md"]), settings,
                 index=index, embedder=embedder)  # fmt: skip
    memory = BM25Memory()
    assert not memory.ready(index.db, index.chunk_count(), settings.registry_path)
    deadline = time.monotonic() + 30
    while not memory.ready(index.db, index.chunk_count(), settings.registry_path):
        assert time.monotonic() < deadline, "the postings never loaded"
        time.sleep(0.05)
    assert memory.loads == 1
    small = BM25Memory(max_rows=1)
    assert not small.ready(index.db, index.chunk_count(), settings.registry_path)
    assert small._builder is None  # too large to hold: FTS5 ranks, nothing is loaded
