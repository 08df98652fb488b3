"""The manual picker in a real browser (Debian chromium, Playwright): "Ask this manual" on the
manuals page, the answer header naming the manual, filtering the list, the list following the
collection. Screenshots go to test-artifacts/ for a human look."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import LiveServer, build_index, web_settings
from web.app import create_app

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not CHROMIUM.exists():
    pytest.skip("browser tests need Debian chromium at /usr/bin/chromium", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("browser tests need playwright (pip install playwright)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("scope-browser") / "index"
    build_index(data_dir, manuals)  # pump → default, router → network
    live = LiveServer(create_app(web_settings(data_dir))).start()
    yield live
    live.stop()


@pytest.fixture
def page(server: LiveServer) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"], headless=True
        )
        pg = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        yield pg
        browser.close()
    assert not errors, f"browser errors: {errors}"


def test_ask_this_manual_then_pick_and_filter(server: LiveServer, page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server.url + "/manuals")
    row = page.locator("tr.doc", has_text="Netgate R7 Router Guide")
    row.get_by_role("link", name="Ask this manual: Netgate R7 Router Guide").click()
    expect(page).to_have_url(re.compile(r"/\?doc=[0-9a-f]{16}$"))
    summary = page.locator("#manual-summary")
    expect(summary).to_have_text("Netgate R7 Router Guide")

    # a pump question asked of the router guide: the router's passages, named in the header
    question = page.get_by_label("Your question")
    question.fill("How do I prime the pump?")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".scope")).to_have_text("In: Netgate R7 Router Guide")
    chips = turn.locator(".source-list .chip")
    expect(chips.first).to_be_visible()
    for title in chips.locator(".chip-title").all_inner_texts():
        assert title == "Netgate R7 Router Guide"
    page.screenshot(path=str(ARTIFACTS / "ask-one-manual.png"), full_page=True)

    # filter the list, choose the pump manual too: both in the next question's header
    page.locator("#manual-picker summary").click()
    box = page.get_by_label("Filter the manuals")
    expect(box).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "ask-picker.png"))
    box.fill("aquila")
    options = page.locator(".manual-option")
    expect(options.filter(visible=True)).to_have_count(1)
    options.filter(has_text="Aquila P-20 Pump Manual").locator("input").check()
    expect(summary).to_have_text("2 manuals")
    box.fill("no such manual")
    expect(page.locator("#manual-nomatch")).to_have_text("No manual matches “no such manual”.")
    page.keyboard.press("Escape")
    expect(page.locator("#manual-picker")).not_to_have_attribute("open", "")
    question.fill("How do I prime the pump?")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".scope")).to_have_text(
        re.compile(r"^In: (Netgate R7 Router Guide, Aquila P-20 Pump Manual|"
                   r"Aquila P-20 Pump Manual, Netgate R7 Router Guide)$")
    )  # fmt: skip
    expect(turn.locator(".source-list .chip").first).to_contain_text("Aquila P-20 Pump Manual")

    # the list follows the collection: only the router guide is in `network`
    page.get_by_label("Collection").select_option("network")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Netgate R7 Router Guide")
    expect(summary).to_have_text("Netgate R7 Router Guide")
    page.locator("#manual-picker summary").click()
    page.get_by_role("button", name="Ask all manuals").click()
    expect(summary).to_have_text("All manuals")
    page.keyboard.press("Escape")
    question.fill("factory reset")
    question.press("Enter")
    turn = page.locator(".turn").last
    expect(turn).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
    expect(turn.locator(".scope")).to_have_text("In collection: network")


def test_picker_on_a_narrow_screen(server: LiveServer, page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 780})
    page.goto(server.url + "/")
    page.locator("#manual-picker summary").click()
    expect(page.locator(".manual-option").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(ARTIFACTS / "ask-picker-375.png"))


def test_picker_in_chinese(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/manuals?lang=zh-CN")
    page.locator("tr.doc", has_text="Aquila").get_by_role(
        "link", name=re.compile("向此手册提问")
    ).click()
    expect(page.locator("#manual-summary")).to_have_text("Aquila P-20 Pump Manual")
    page.locator("#manual-picker summary").click()
    page.get_by_role("button", name="检索全部手册").click()
    expect(page.locator("#manual-summary")).to_have_text("全部手册")
