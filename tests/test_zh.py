"""Chinese manuals end to end: a generated Chinese PDF and DOCX through ingest, lexical and hybrid
search, the answerability gate, citation checking and the prompt; an index of the old format
meeting the new code.

The manual and its questions are in tests/fixtures.py (`ZH_MANUAL`, `ZH_QUESTIONS`): each
answerable question names the page that answers it, so every check here can fail.
"""

from __future__ import annotations

import sqlite3

import pytest

from folio import text as lang
from folio.index import MIGRATION_1, SCHEMA_VERSION, Index
from folio.settings import Settings
from generation.citations import check, is_refusal, support
from ingest.pipeline import ingest_paths
from retrieval.answerable import answerable
from retrieval.prompt import REFUSALS, build_prompt, refusal
from retrieval.search import search
from services.build import open_index
from tests.fixtures import (
    ZH_QUESTIONS,
    make_pdf,
    make_zh_manual_docx,
    make_zh_manual_pdf,
)

ANSWERABLE = [q for q in ZH_QUESTIONS if q.page is not None]
UNANSWERABLE = [q for q in ZH_QUESTIONS if q.page is None]
ENGLISH = [
    "Pump manual. Installation: bolt the pump to a level plinth with four M12 anchors.",
    "Priming: open the vent screw and fill the casing with water before the first start.",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zh")
    make_zh_manual_pdf(tmp / "xr500.pdf")
    make_pdf(tmp / "pump.pdf", ENGLISH, title="Pump Manual")
    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    results = ingest_paths(
        [tmp / "xr500.pdf", tmp / "pump.pdf"], settings, index=index, embedder=embedder
    )
    assert [r.status for r in results] == ["ingested", "ingested"], results
    return settings, index, embedder, tmp


def _rank(hits, page: int) -> int | None:
    for i, p in enumerate(hits.passages, 1):
        if p.doc_name == "xr500.pdf" and p.page == page:
            return i
    return None


CHINESE = [q for q in ANSWERABLE if lang.detect_language(q.evidence) is lang.Lang.ZH]


def test_chinese_questions_find_their_chinese_page_in_the_top_5(env):
    """Questions answered by the manual's English page need a multilingual embedder
    (FOLIO_EMBEDDING_URL), not the default English MiniLM, so they are not counted here."""
    settings, index, embedder, _ = env
    ranks = {q.question: _rank(search(index, embedder, settings, q.question, k=5), q.page)
             for q in CHINESE}  # fmt: skip
    assert sum(r is not None for r in ranks.values()) >= 0.9 * len(ranks), ranks


def test_lexical_search_puts_the_chinese_page_first(env):
    settings, index, embedder, _ = env
    ranks = {q.question: _rank(search(index, embedder, settings, q.question, mode="bm25", k=5),
                               q.page) for q in CHINESE}  # fmt: skip
    assert sum(r == 1 for r in ranks.values()) >= 0.8 * len(ranks), ranks


def test_bm25_alone_matches_chinese_and_mixed_terms(env):
    settings, index, embedder, _ = env
    for question, page in [("reset 孔要按住多长时间？", 6), ("管理页面提示 E42 怎么办？", 7),
                           ("保修期是几年？", 8)]:  # fmt: skip
        hits = search(index, embedder, settings, question, mode="bm25", k=3)
        assert _rank(hits, page) == 1, (question, [(p.doc_name, p.page) for p in hits.passages])


def test_no_answerable_chinese_question_is_refused(env):
    settings, index, embedder, _ = env
    refused = [
        q.question
        for q in ANSWERABLE
        if not answerable(search(index, embedder, settings, q.question), settings).answerable
    ]
    assert refused == []


def test_chinese_question_naming_an_absent_product_is_refused(env):
    settings, index, embedder, _ = env
    for q in UNANSWERABLE:
        hits = search(index, embedder, settings, q.question)
        assert [t.lower() for t in hits.unknown_terms] == [q.evidence.lower()], q
        assert not answerable(hits, settings).answerable


def test_chinese_docx_is_searchable_by_page(tmp_path):
    make_zh_manual_docx(tmp_path / "xr500.docx")
    settings = Settings(data_dir=tmp_path / "index")
    index, embedder = open_index(settings)
    (result,) = ingest_paths([tmp_path / "xr500.docx"], settings, index=index, embedder=embedder)
    assert result.status == "ingested"
    q = next(q for q in ANSWERABLE if "E42" in q.question)
    top = search(index, embedder, settings, q.question, mode="bm25", k=1).passages[0]
    assert top.page == q.page and q.evidence.replace(" ", "") in top.body.replace(" ", "")


def test_old_format_index_is_migrated_and_searchable(env, tmp_path):
    """An index written before the language layer (Porter FTS over raw text, no schema version)
    is re-analysed when opened: Chinese terms match afterwards, vectors are kept."""
    settings, index, embedder, tmp = env
    old = Settings(data_dir=tmp_path / "old")
    idx, emb = open_index(old)
    ingest_paths([tmp / "xr500.pdf"], old, index=idx, embedder=emb)
    idx.close()
    db = sqlite3.connect(old.registry_path)
    db.executescript(
        "DROP TABLE chunks_vocab; DROP TABLE chunks_fts; ALTER TABLE chunks DROP COLUMN lang;"
    )
    for later in {r[1] for r in db.execute("PRAGMA table_info(chunks)")} & {"ocr"}:
        db.execute(f"ALTER TABLE chunks DROP COLUMN {later}")  # columns of later migrations
    db.executescript(MIGRATION_1)
    db.execute("INSERT INTO chunks_fts(rowid, text, section, title) "
               "SELECT rowid, text, section, '' FROM chunks")  # fmt: skip
    db.execute("PRAGMA user_version = 0")
    db.commit()
    q = next(q for q in ANSWERABLE if q.question.startswith("保修期"))
    assert (
        db.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", ('"保修"',)
        ).fetchone()[0]
        == 0
    )  # the old tokenizer made whole sentences single tokens
    db.close()

    reopened = Index(old, model_name=emb.name, dim=lambda: emb.dim)
    version = reopened.db.execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    langs = {r[0] for r in reopened.db.execute("SELECT DISTINCT lang FROM chunks")}
    assert "zh" in langs
    hits = search(reopened, emb, old, q.question, mode="bm25", k=3)
    assert _rank(hits, q.page) == 1


def test_a_newer_registry_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path)
    Index(settings, model_name="m").close()
    db = sqlite3.connect(settings.registry_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer than this Folio"):
        Index(settings, model_name="m")


# --- pure: language layer, citations, refusals, prompt ---------------------------------------


def test_language_is_detected_by_script_share():
    assert lang.detect_language("怎样恢复出厂设置？") is lang.Lang.ZH
    assert lang.detect_language("用 pbuilder create 初始化的 chroot 放在哪？") is lang.Lang.ZH
    assert lang.detect_language("How do I install 钉钉 on the router?") is lang.Lang.EN
    assert lang.detect_language("E42 0x80070005") is lang.Lang.EN


def test_chinese_sentences_split_on_full_width_marks_and_lines():
    text = "按住 RESET 孔 8 秒。指示灯变红！然后松开？第二步；完成\nNext line. Done."
    assert lang.sentences(text) == [
        "按住 RESET 孔 8 秒。", "指示灯变红！", "然后松开？", "第二步；", "完成",
        "Next line.", "Done.",
    ]  # fmt: skip


def test_query_terms_segment_chinese_and_keep_identifiers():
    terms = lang.query_terms("修改 /etc/config/wireless 之后需要重启路由器吗？")
    assert {"重启", "路由器", "etc", "config", "wireless", "etc/config/wireless"} <= set(terms)
    assert not {"之后", "需要", "吗"} & set(terms)


def test_pdf_line_break_inside_a_chinese_word_does_not_split_it():
    assert "分钟" in lang.index_terms("等待 10 分\n钟后重试")


def test_supported_chinese_sentence_and_unsupported_one_are_told_apart():
    passage = "恢复出厂设置：在通电状态下，用牙签按住背面的 RESET 孔 8 秒，指示灯变为红色后松开。"
    good = "用牙签按住背面的 RESET 孔 8 秒，指示灯变红后松开 [1]。"
    bad = "把路由器放进冰箱冷冻两个小时就能恢复 [1]。"
    assert support(good, passage) >= 0.5 > support(bad, passage)
    checked = check(good + bad, [passage])
    assert [s.supported for s in checked.sentences] == [True, False]
    assert not checked.refused


def test_english_sentence_citing_a_chinese_passage_is_checked_on_names_and_numbers():
    passage = "使用 pbuilder 构建后，软件包位于 /var/cache/pbuilder/result/ 目录，且没有签名。"
    assert support("The packages end up in /var/cache/pbuilder/result/ [1].", passage) >= 0.5
    assert support("They are uploaded to the Zigbee hub [1].", passage) < 0.5


def test_chinese_refusals_are_recognised():
    for text in [
        REFUSALS[lang.Lang.ZH],
        "手册中没有涉及如何在路由器上搭建 OpenVPN。",
        "抱歉，提供的段落并未提及 Zigbee 网关功能。",
        "无法根据手册回答这个问题。",
        "没有找到相关信息。",
    ]:
        assert is_refusal(text), text
    assert not is_refusal("按住 RESET 孔 8 秒即可恢复出厂设置 [1]。")


def test_refusal_and_answer_language_follow_the_question(env):
    settings, index, embedder, _ = env
    assert refusal("怎样开启 IPv6？") == REFUSALS[lang.Lang.ZH]
    assert refusal("How do I enable IPv6?") == REFUSALS[lang.Lang.EN]
    hits = search(index, embedder, settings, "保修期是几年？")
    prompt = build_prompt("保修期是几年？", hits.passages, context_tokens=2048, answer_tokens=256)
    user = prompt.messages[1]["content"]
    assert "Answer in Simplified Chinese" in user
    assert "language of the question" in prompt.messages[0]["content"]


def test_chinese_passages_are_costed_per_character():
    """A Han character is about one LLM token: counting 3.3 characters a token, as for English,
    would overflow the engine's context with Chinese passages."""
    assert lang.estimate_tokens("恢复出厂设置" * 100) >= 600
    assert lang.estimate_tokens("reset the router " * 20) < 120


# --- with the real local engine ----------------------------------------------------------------


@pytest.mark.engine
def test_chinese_question_gets_a_chinese_answer_citing_the_page(tmp_path):
    pytest.importorskip(
        "xllamacpp", reason="the local engine needs xllamacpp (pip install .[engine])"
    )
    import asyncio
    import socket
    from pathlib import Path

    from generation.client import LLMClient
    from generation.engine import start_engine
    from generation.models import default_model_path
    from services.answer import Answerer
    from tests.fixtures import ZH_MANUAL

    root = Path(__file__).resolve().parent.parent
    model = default_model_path(Settings(engine_dir=root / "data" / "engine"))
    if not model.exists():
        pytest.skip(f"the instruct model is not installed at {model}: run `make setup`")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_zh_manual_pdf(tmp_path / "xr500.pdf", ZH_MANUAL[:8])
    settings = Settings(
        data_dir=tmp_path / "index", engine_port=port, llm_model="qwen", prompt_passages=2,
        passage_chars=400, llm_max_tokens=120, llm_context_tokens=2048,
    )  # fmt: skip
    index, embedder = open_index(settings)
    ingest_paths([tmp_path / "xr500.pdf"], settings, index=index, embedder=embedder)
    handle = start_engine(settings, model, timeout_s=180)
    try:
        client = LLMClient.from_settings(settings, base_url=handle.base_url, model=handle.model)
        answerer = Answerer(settings, index, embedder, client)

        async def run():
            events = [e async for e in answerer.stream("reset 孔要按住多长时间？")]
            await client.aclose()
            return events

        events = asyncio.run(run())
    finally:
        handle.stop()
    answer = events[-1].data
    streamed = "".join(e.data for e in events if e.type == "token")
    assert "\ufffd" not in streamed  # no multibyte character cut in two by the stream
    assert not answer.refused and answer.mode == "llm", answer
    assert lang.detect_language(answer.text) is lang.Lang.ZH, answer.text
    assert "8" in answer.text
    assert any(c.page == 6 for c in answer.citations), (answer.text, answer.citations)


def test_words_segment_chinese_and_keep_latin_identifiers_whole():
    words = lang.words("用 dpkg-depcheck 找出构建依赖")
    assert words == ["用", "dpkg-depcheck", "找出", "构建", "依赖"]
