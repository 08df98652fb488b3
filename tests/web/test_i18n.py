"""The web app in English and Simplified Chinese: catalogue, negotiation, switch, formatting.

Pages are fetched from the real app over a real index (the conftest's generated manuals); the
API's JSON stays English whatever the browser's language.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import build_index, parse_sse, wait_job, web_settings
from web import i18n
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
ZH = {"accept-language": "zh-CN,zh;q=0.9,en;q=0.8", "accept": "text/html"}
EN = {"accept-language": "en-US,en;q=0.9", "accept": "text/html"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("i18n") / "index"
    build_index(path, manuals)
    return path


@pytest.fixture(scope="module")
def served(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings(data_dir))) as c:
        yield c


@pytest.fixture
def client(served: TestClient) -> TestClient:
    """The module's client, without the cookies an earlier test left (the language switch)."""
    served.cookies.clear()
    return served


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match, html[:300]
    return match.group(1)


# --- the catalogue -------------------------------------------------------------------------------


def _fields(text: i18n.Text) -> set[str]:
    texts = text.values() if isinstance(text, dict) else [text]
    return {f for t in texts for _, f, _, _ in string.Formatter().parse(t) if f}


def test_every_key_in_both_catalogues_with_the_same_placeholders() -> None:
    en, zh = i18n.CATALOGUE["en"], i18n.CATALOGUE["zh-CN"]
    assert set(en) - set(zh) == set(), "keys missing in zh-CN"
    assert set(zh) - set(en) == set(), "keys missing in en"
    assert set(i18n.CATALOGUE) == set(i18n.LOCALES)
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        for text in (en[key], zh[key]):
            if isinstance(text, dict):
                assert "other" in text, key


_KEY = re.compile(r"""_\(\s*["']([\w.]+)["']\s*[,)]""")  # a literal key, not "jobs." ~ phase


def test_templates_and_script_use_only_known_keys() -> None:
    """A key mistyped in a template or in app.js would show up as the key itself."""
    keys = set(i18n.CATALOGUE["en"])
    templates = (ROOT / "web" / "templates").rglob("*.html")
    used = {k for p in templates for k in re.findall(_KEY, p.read_text())}
    assert used and used - keys == set()
    js_keys = set(re.findall(r"""\bt\(\s*"([\w.]+)\"""", (ROOT / "web/static/app.js").read_text()))
    assert js_keys and js_keys - set(i18n.js_strings("en")) == set()
    assert "loc.page" in i18n.js_strings("zh-CN") and "js.searching" in i18n.js_strings("zh-CN")
    assert "nav.ask" not in i18n.js_strings("en")  # server-only words stay on the server


# --- choosing the language -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh-TW,zh;q=0.9", "zh-CN"),  # no Traditional catalogue: Simplified beats English
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9", "en"),
        ("fr, zh;q=0.5", "zh-CN"),
        ("en;q=0.4, zh-CN;q=0.8", "zh-CN"),
        ("zh-CN;q=0.4, en;q=0.8", "en"),
        ("zh-CN;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        ("zh-CN;q=bogus, en", "en"),
        ("*", "en"),
        ("de, *;q=0.1", "en"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_accept_language_picks_the_page_language(client: TestClient) -> None:
    zh = client.get("/", headers=ZH)
    assert zh.status_code == 200
    assert _lang(zh.text) == "zh-CN" and zh.headers["content-language"] == "zh-CN"
    for words in ("您的问题", "新对话", "<title>提问 · Folio</title>", "仅检索"):
        assert words in zh.text
    assert re.search(r"<span>\d+ 本手册，\d+ 个段落</span>", zh.text)
    assert "Your question" not in zh.text and "New chat" not in zh.text
    assert "Accept-Language" in zh.headers["vary"]

    en = client.get("/", headers=EN)
    assert _lang(en.text) == "en"
    for words in ("Your question", "New chat", "retrieval-only"):
        assert words in en.text
    assert re.search(r"<span>\d+ manuals, \d+ passages</span>", en.text)
    assert "您的问题" not in en.text
    assert _lang(client.get("/", headers={"accept": "text/html"}).text) == "en"  # no header


def test_switch_sets_a_cookie_that_beats_the_header(client: TestClient) -> None:
    switched = client.get("/manuals?lang=zh-CN", headers=EN)
    assert _lang(switched.text) == "zh-CN"
    assert "folio_lang=zh-CN" in switched.headers["set-cookie"]
    assert "HttpOnly" in switched.headers["set-cookie"]
    assert client.cookies.get(i18n.COOKIE) == "zh-CN"
    later = client.get("/", headers=EN)  # the browser says English; the switch said Chinese
    assert _lang(later.text) == "zh-CN" and "您的问题" in later.text
    assert "set-cookie" not in later.headers
    # htmx fragments follow the cookie too
    assert "本手册" in client.get("/ui/status", headers=EN).text
    back = client.get("/?lang=en", headers=ZH)
    assert _lang(back.text) == "en" and client.cookies.get(i18n.COOKIE) == "en"
    assert _lang(client.get("/", headers=ZH).text) == "en"


def test_unknown_lang_is_ignored(client: TestClient) -> None:
    page = client.get("/?lang=xx-YY", headers=ZH)
    assert _lang(page.text) == "zh-CN" and "set-cookie" not in page.headers
    client.cookies.set(i18n.COOKIE, "klingon")
    assert _lang(client.get("/", headers=ZH).text) == "zh-CN"


def test_header_switch_links_keep_the_query(client: TestClient) -> None:
    page = client.get("/manuals?x=1", headers=ZH).text
    switch = page[page.index('<nav class="lang"') :]
    switch = switch[: switch.index("</nav>")]
    assert 'href="/manuals?x=1&amp;lang=en"' in switch
    assert 'lang="zh-CN" hreflang="zh-CN" aria-current="true">中文</a>' in switch
    assert ">English</a>" in switch


# --- the pages in Chinese ------------------------------------------------------------------------


def test_manuals_page_and_fragments_in_chinese(client: TestClient, tmp_path: Path) -> None:
    page = client.get("/manuals", headers=ZH).text
    for words in ("<h1>手册</h1>", "手册库", "标题", "索引时间", "就绪", "重新索引", "删除"):
        assert words in page
    when = re.findall(r'class="doc-when">([^<]+)<', page)
    assert when and all(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}", w) for w in when)
    english = client.get("/manuals", headers=EN).text
    when_en = re.findall(r'class="doc-when">([^<]+)<', english)
    assert when_en and all(
        re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M", w) for w in when_en
    )

    # an upload's job line, done, in both languages
    note = tmp_path / "notes.md"
    note.write_text("# Kettle K1\n\nDescale the kettle every month with citric acid.\n", "utf-8")
    with note.open("rb") as fh:
        job = client.post(
            "/api/v1/documents?collection=kitchen",
            files={"file": ("notes.md", fh, "text/markdown")},
        )
    assert job.status_code == 202, job.text
    assert wait_job(client, job.json()["job_id"])["status"] == "done"
    jobs = client.get("/ui/jobs", headers=ZH).text
    assert "完成：1 个段落" in jobs and "清空列表" in jobs
    assert "done: 1 passage<" in client.get("/ui/jobs", headers=EN).text


def test_passage_panel_in_chinese(client: TestClient) -> None:
    hits = client.post("/api/v1/search", json={"query": "alarm error E42 overheated"}).json()
    hit = next(p for p in hits["passages"] if p["page"] == 3)
    zh = client.get(f"/ui/passage/{hit['chunk_id']}?n=1&q=E42", headers=ZH).text
    assert "第 3 页 ·" in zh and "打开第 3 页 ↗" in zh
    en = client.get(f"/ui/passage/{hit['chunk_id']}?n=1&q=E42", headers=EN).text
    assert "p. 3 ·" in en and "Open page 3 ↗" in en


def test_error_page_in_chinese_but_api_errors_stay_english(client: TestClient) -> None:
    page = client.get("/no-such-page", headers=ZH)
    assert page.status_code == 404
    assert (
        _lang(page.text) == "zh-CN" and "<h1>未找到</h1>" in page.text and "返回提问" in page.text
    )
    api = client.get("/api/v1/nope", headers={"accept-language": "zh-CN"})
    assert api.status_code == 404 and "nothing at" in api.json()["error"]["message"]


def test_ask_api_stays_english_and_gives_a_notice_code(client: TestClient) -> None:
    zh = {"accept-language": "zh-CN"}
    body = client.post(
        "/api/v1/ask", json={"question": "What does error E42 mean?", "retrieval_only": True},
        headers=zh,
    ).json()  # fmt: skip
    assert body["mode"] == "retrieval-only"
    assert body["notice_code"] == "retrieval_only" and body["notice_detail"] is None
    assert body["notice"] == i18n.t("en", "notice.retrieval_only")  # programs read this: English
    assert body["passages"][0]["locator"].startswith("p. ")
    # no engine: what the browser's stream says, code and reason apart for the page to word
    with client.stream(
        "POST", "/api/v1/ask?stream=true", json={"question": "What does error E42 mean?"},
        headers=zh,
    ) as r:  # fmt: skip
        events = parse_sse(r.iter_lines())
    done = json.loads(next(data for event, data in events if event == "done"))
    assert done["notice_code"] == "engine_down"
    assert done["notice_detail"] == "started with --no-engine"
    assert done["notice"].startswith("No answer engine is running (started with --no-engine).")
    zh_notice = i18n.t("zh-CN", "notice.engine_down", detail=done["notice_detail"])
    assert zh_notice.startswith("没有正在运行的回答引擎（started with --no-engine）")


def test_js_strings_blob_matches_the_catalogue(client: TestClient) -> None:
    page = client.get("/", headers=ZH).text
    blob = re.search(r'<script type="application/json" id="folio-strings">(.*?)</script>', page)
    assert blob
    strings = json.loads(blob.group(1))
    assert strings == i18n.js_strings("zh-CN")
    assert strings["js.searching"] == "正在检索手册…"
    assert "<" not in blob.group(1)  # nothing in the blob can close the script element


def test_login_page_in_chinese(data_dir: Path) -> None:
    from services.auth import hash_password

    settings = web_settings(
        data_dir, auth=True, auth_user="alice", auth_password_hash=hash_password("pw-alice")
    )
    with TestClient(create_app(settings)) as c:
        login = c.get("/login", headers=ZH)
        assert _lang(login.text) == "zh-CN"
        for words in ("登录 Folio", "用户名", "密码", "<title>登录 · Folio</title>"):
            assert words in login.text
        assert "Log in to Folio" not in login.text
        wrong = c.post(
            "/login", data={"username": "alice", "password": "nope", "next": "/"}, headers=ZH
        )
        assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text
        wrong_en = c.post(
            "/login", data={"username": "alice", "password": "nope", "next": "/"}, headers=EN
        )
        assert "Wrong user name or password." in wrong_en.text
        # ?lang= on a page that redirects to the login form still remembers the choice
        redirect = c.get("/manuals?lang=zh-CN", headers=EN, follow_redirects=False)
        assert redirect.status_code == 303 and "folio_lang=zh-CN" in redirect.headers["set-cookie"]


# --- numbers and dates ---------------------------------------------------------------------------


def test_numbers_and_plurals_per_locale() -> None:
    assert i18n.format_number(1234567.5, "en") == "1,234,567.5"
    assert i18n.format_number(1234567.5, "zh-CN") == "1,234,567.5"
    assert i18n.format_number(2, "en", 1) == "2.0"
    assert i18n.t("en", "count.pages", n=1) == "1 page"
    assert i18n.t("en", "count.pages", n=2) == "2 pages"
    assert i18n.t("en", "count.passages", n=12345) == "12,345 passages"
    assert i18n.t("zh-CN", "count.pages", n=1) == "1 页"
    assert i18n.t("zh-CN", "count.passages", n=12345) == "12,345 个段落"
    assert i18n.t("zh-CN", "count.manuals", n=2) == "2 本手册"


def test_durations_per_locale() -> None:
    assert i18n.format_ms(340.4, "en") == "340 ms"
    assert i18n.format_ms(1530, "en") == "1.5 s"
    assert i18n.format_ms(340.4, "zh-CN") == "340 毫秒"
    assert i18n.format_ms(1530, "zh-CN") == "1.5 秒"
    assert i18n.format_ms(None, "zh-CN") == "–"


def test_dates_per_locale() -> None:
    moment = datetime(2026, 12, 1, 14, 5).timestamp()  # local time, as the server shows it
    assert i18n.format_when(moment, "zh-CN") == "2026年12月1日 14:05"
    assert re.fullmatch(r"Dec 1, 2026, 2:05\sPM", i18n.format_when(moment, "en"))
    assert i18n.format_when(None, "en") == "–"


def test_gettext_escapes_arguments_but_not_markup() -> None:
    """Manual titles go into confirm dialogs and headings: they must stay text."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True)
    i18n.install(env)
    tpl = env.from_string(
        "{{ _('docs.delete_confirm', title=title) }}|{{ _('ask.intro', chip=chip) }}"
    )
    out = tpl.render(locale="zh-CN", title='<b>"x"</b>', chip=Markup("<i>1</i>"))
    assert "&lt;b&gt;&#34;x&#34;&lt;/b&gt;" in out and "<b>" not in out
    assert "<i>1</i>" in out
