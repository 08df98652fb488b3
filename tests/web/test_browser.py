"""The web UI in a real browser: Debian's chromium driven by Playwright against uvicorn.

Upload a generated PDF on /manuals, watch the job reach done, ask on /, see the streamed
(retrieval-only) answer with citation chips, open a passage and its page link. With a scripted
engine whose answer needs repairs, every state of the streamed answer is the checked one so far
and the page ends with exactly the API's non-streamed answer and citations. The same in
Chinese: a browser that asks for zh-CN gets the Chinese UI, a Chinese DOCX manual and a Chinese
question, and the language switch. Screenshots go to test-artifacts/ (gitignored) for a human
look, at desktop width and at 375 px.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import make_docx, make_pdf
from tests.scripted_engine import ScriptedEngine
from tests.web.conftest import LiveServer, build_index, web_settings
from web.app import create_app

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists():
    pytest.skip("browser tests need Debian chromium at /usr/bin/chromium", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("browser tests need playwright (pip install playwright)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser") / "index"
    live = LiveServer(create_app(web_settings(data_dir))).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
    yield pg
    context.close()
    assert not errors, f"browser errors: {errors}"


def test_upload_ask_cite_open(server: LiveServer, page: Page, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = make_pdf(
        tmp_path / "chiller-c5.pdf",
        [
            "Chiller C5 operating manual. Read the safety notes before servicing.",
            "Alarm A7 means the condenser fan has stalled. Clean the fan guard and restart "
            "the chiller with the green button.",
            "Refrigerant charge: only certified technicians may open the refrigerant circuit.",
        ],
        title="Chiller C5 Manual",
    )
    page.goto(server.url + "/manuals")
    expect(page.get_by_role("heading", name="Manuals")).to_be_visible()
    page.set_input_files("#file-input", str(pdf))
    job = page.locator(".job").first
    expect(job).to_have_attribute("data-status", "done", timeout=120_000)
    expect(job).to_contain_text("3 pages")
    row = page.locator("tr.doc").first  # the library refreshes itself when the job is done
    expect(row).to_contain_text("Chiller C5 Manual", timeout=10_000)
    expect(row).to_contain_text("Ready")
    page.screenshot(path=str(ARTIFACTS / "manuals.png"), full_page=True)

    page.goto(server.url + "/")
    expect(page.locator("#status")).to_contain_text("retrieval-only")
    question = page.get_by_label("Your question")
    question.fill("What does alarm A7 mean?")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".notice")).to_contain_text("best-matching passages")
    chips = turn.locator(".answer button.chip")
    expect(chips.first).to_be_visible()
    expect(turn.locator(".source-list .chip").first).to_contain_text("Chiller C5 Manual, p. 2")
    page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)

    chips.first.click()
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#panel-title")).to_contain_text("Chiller C5 Manual")
    expect(panel.locator("mark").first).to_be_visible()
    link = panel.get_by_role("link", name=re.compile("Open page 2"))
    expect(link).to_have_attribute("href", re.compile(r"^/files/[0-9a-f]+#page=2$"))
    page.screenshot(path=str(ARTIFACTS / "ask-panel.png"), full_page=True)
    response = page.request.get(server.url + link.get_attribute("href").split("#")[0])
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # A follow-up keeps the conversation; New chat clears it.
    question.fill("And how do I restart it?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".turn").last).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".turn")).to_have_count(0)


def test_narrow_screen_and_markup_safety(server: LiveServer, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 780})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/")
    question = page.get_by_label("Your question")
    question.fill("What does <b>alarm A7</b> mean?")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".q")).to_have_text("What does <b>alarm A7</b> mean?")
    expect(turn.locator(".q b")).to_have_count(0)  # shown as text, not parsed as HTML
    assert dialogs == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"horizontal scroll at 375 px: {width}"
    turn.locator(".answer button.chip").first.click()
    expect(page.locator("#panel")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "ask-375.png"), full_page=False)
    page.goto(server.url + "/manuals")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(ARTIFACTS / "manuals-375.png"), full_page=True)
    context.close()


def test_keyboard_only(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/")
    page.keyboard.press("Tab")  # skip link first
    expect(page.locator(".skip")).to_be_focused()
    page.get_by_label("Your question").focus()
    page.keyboard.type("condenser fan alarm")
    page.keyboard.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    chip = turn.locator(".answer button.chip").first
    chip.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(chip).to_be_focused()


def test_login_then_upload_and_ask_with_csrf(browser: Browser, tmp_path_factory) -> None:
    """Auth on: the login form, then htmx and fetch requests carry the session's CSRF token."""
    from services.auth import hash_password

    data_dir = tmp_path_factory.mktemp("browser-auth") / "index"
    settings = web_settings(
        data_dir, auth=True, auth_user="alice", auth_password_hash=hash_password("pw-for-alice")
    )
    live = LiveServer(create_app(settings)).start()
    try:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        page.goto(live.url + "/manuals")
        expect(page).to_have_url(re.compile(r"/login\?next=/manuals$"))
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
        page.get_by_label("Password").fill("pw-for-alice")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(live.url + "/manuals")
        manual = tmp_path_factory.mktemp("m") / "dryer-notes.md"
        manual.write_text(
            "# Dryer D2\n\n## Lint filter\n\nClean the lint filter after every cycle; a full "
            "filter makes the dryer stop with code F3.\n",
            encoding="utf-8",
        )
        page.set_input_files("#file-input", str(manual))
        expect(page.locator(".job").first).to_have_attribute("data-status", "done", timeout=90_000)
        page.once("dialog", lambda d: d.accept())
        page.locator("tr.doc").first.get_by_role("button", name="Re-index").click()
        expect(page.locator(".job")).to_have_count(2)
        expect(page.locator(".job").first).to_have_attribute("data-status", "done", timeout=90_000)
        page.get_by_role("link", name="Ask", exact=True).click()  # not "Ask this manual"
        page.get_by_label("Your question").fill("How often should I clean the dryer lint filter?")
        page.get_by_label("Your question").press("Enter")
        turn = page.locator(".turn").last
        expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
        expect(turn.locator(".answer")).to_contain_text("lint filter")
        page.get_by_role("link", name="Manuals").click()
        page.once("dialog", lambda d: d.accept())
        page.locator("tr.doc").first.get_by_role("button", name="Delete").click()
        expect(page.locator("#documents")).to_contain_text("No manuals yet")
        expect(page.locator(".flash")).to_contain_text("Deleted Dryer D2")
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login"))
        context.close()
    finally:
        live.stop()


# A Chinese router manual: one section per page (the DOCX records its page breaks).
ZH_MANUAL_TITLE = "星河 R9 路由器用户手册"
ZH_MANUAL = [
    ("title", ZH_MANUAL_TITLE),
    ("heading", 1, "安全须知"),
    ("para", "使用前请阅读全部说明。请勿在潮湿的环境中使用路由器，只使用原装电源适配器。"),
    ("page_break",),
    ("heading", 1, "恢复出厂设置"),
    ("para", "恢复出厂设置：按住复位按钮十秒钟，指示灯变为红色。松开按钮后路由器自动重启。"),
    ("page_break",),
    ("heading", 1, "无线网络设置"),
    ("para", "在浏览器中打开管理页面 192.168.1.1，选择无线网络，然后设置 WPA3 密码。"),
]


def test_chinese_ui_manual_and_switch(server: LiveServer, browser: Browser, tmp_path: Path) -> None:
    """Accept-Language zh-CN: Chinese labels; a Chinese manual answers a Chinese question
    (this part needs Chinese lexical search); the switch to English sticks over the header."""
    ARTIFACTS.mkdir(exist_ok=True)
    docx = make_docx(tmp_path / "xinghe-r9.docx", ZH_MANUAL, title=ZH_MANUAL_TITLE)
    context = browser.new_context(
        locale="zh-CN",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        viewport={"width": 1280, "height": 860},
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    page.goto(server.url + "/manuals")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="手册", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="提问", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="中文")).to_have_attribute("aria-current", "true")
    page.set_input_files("#file-input", str(docx))
    job = page.locator(".job", has_text="xinghe-r9.docx")
    expect(job).to_have_attribute("data-status", "done", timeout=120_000)
    expect(job).to_contain_text("完成：3 页")
    row = page.locator("tr.doc", has_text=ZH_MANUAL_TITLE)
    expect(row).to_contain_text("就绪", timeout=10_000)
    expect(row.locator(".doc-when")).to_contain_text("年")
    page.screenshot(path=str(ARTIFACTS / "manuals-zh.png"), full_page=True)

    page.get_by_role("link", name="提问", exact=True).click()
    expect(page.locator("#status")).to_contain_text("仅检索")
    expect(page.get_by_role("button", name="新对话")).to_be_visible()
    question = page.get_by_label("您的问题")
    question.fill("怎样恢复出厂设置？")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".timing")).to_contain_text("检索")
    # From here on this needs Chinese lexical search: without it the question is refused
    # ("最接近的段落", closest passages) and the manual's passage is not the best match.
    expect(turn.locator(".sources-label")).to_have_text("来源")
    expect(turn.locator(".notice")).to_contain_text("最匹配的段落")
    best = turn.locator(".source-list .chip").first
    expect(best).to_contain_text(ZH_MANUAL_TITLE)
    expect(best).to_contain_text("第 2 页")
    page.screenshot(path=str(ARTIFACTS / "ask-zh.png"), full_page=True)

    turn.locator(".answer button.chip").first.click()
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#panel-title")).to_contain_text(ZH_MANUAL_TITLE)
    expect(panel.locator(".passage-text")).to_contain_text("按住复位按钮十秒钟")
    expect(panel.locator(".meta")).to_contain_text("第 2 页")
    link = panel.get_by_role("link", name=re.compile("打开原文件"))
    href = link.get_attribute("href")
    assert re.fullmatch(r"/files/[0-9a-f]+", href or ""), href
    page.screenshot(path=str(ARTIFACTS / "ask-panel-zh.png"), full_page=True)
    original = page.request.get(server.url + href)
    assert original.status == 200 and "wordprocessingml" in original.headers["content-type"]
    page.keyboard.press("Escape")

    # The switch: English sticks (cookie) although the browser still asks for Chinese.
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Your question")).to_be_visible()
    page.goto(server.url + "/manuals")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Manuals", exact=True)).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="手册", exact=True)).to_be_visible()
    context.close()
    assert not errors, f"browser errors: {errors}"


# Records every text the answer box shows while it streams (before the chips replace it).
RECORD_ANSWER_STATES = """() => {
  window.answerStates = [];
  const conv = document.getElementById("conversation");
  new MutationObserver(() => {
    const turns = conv.querySelectorAll(".turn");
    const box = turns.length ? turns[turns.length - 1].querySelector(".answer") : null;
    if (box && box.textContent) window.answerStates.push(box.textContent);
  }).observe(conv, { subtree: true, childList: true, characterData: true });
}"""


@pytest.mark.parametrize("scenario", ["pump-en", "pump-zh"])
def test_streamed_answer_ends_as_the_checked_answer(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, manuals, scenario: str
) -> None:
    """The scripted engine cites [7] and [9] (there are 3 passages), cuts markers across
    chunks, claims a lifetime warranty no passage mentions and forgets citations: the page
    never shows a marker the check drops, and ends with the non-streamed answer's text and
    cited sources."""
    engine = ScriptedEngine(delay_s=0.15).start()
    data_dir = tmp_path_factory.mktemp("browser-scripted") / "index"
    build_index(data_dir, manuals)
    settings = web_settings(
        data_dir, engine_autostart=True, llm_base_url=engine.url(scenario),
        llm_model="scripted", prompt_passages=3,
    )  # fmt: skip
    live = LiveServer(create_app(settings)).start()
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        deadline = time.monotonic() + 30
        while page.request.get(live.url + "/health").json()["engine_state"] != "up":
            assert time.monotonic() < deadline, "the app did not connect to the scripted engine"
            time.sleep(0.05)
        page.goto(live.url + "/")
        expect(page.locator("#status")).to_contain_text("scripted")
        question = "How do I prime the pump with valve V3?"
        page.evaluate(RECORD_ANSWER_STATES)
        page.get_by_label("Your question").fill(question)
        page.get_by_label("Your question").press("Enter")
        turn = page.locator(".turn").last
        expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
        final = turn.locator(".answer").text_content()
        states = page.evaluate("window.answerStates")

        api = page.request.post(live.url + "/api/v1/ask", data={"question": question}).json()
        assert api["mode"] == "llm" and final == api["answer"]
        assert len(set(states)) > 2, states  # it streamed
        for shown in states:
            assert final.startswith(shown), (shown, final)
            assert not re.search(r"\[[79]\]|\[[\d\s,]*$", shown), shown
        cited = turn.locator(".source-list .chip.cited")
        assert [int(n) for n in cited.evaluate_all("cs => cs.map(c => c.dataset.n)")] == [
            c["n"] for c in api["citations"]
        ]
        chips = turn.locator(".answer button.chip")
        assert set(chips.evaluate_all("cs => cs.map(c => c.textContent)")) == {
            f"[{c['n']}]" for c in api["citations"]
        }
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"ask-scripted-{scenario}.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
        live.stop()
        engine.stop()
