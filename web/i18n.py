"""The web app's own words in English and Simplified Chinese: catalogue, choice, formatting.

One module owns it all:

- `CATALOGUE`: one dict per locale, key → text. A text may hold `{name}` placeholders; a
  plural text is a dict keyed by CLDR plural category ("one", "other", ...). English is the
  reference: every key exists in every locale (a test checks it).
- `request_locale(request)`: `?lang=` first, then the `folio_lang` cookie (set by the
  language switch through `LanguageCookieMiddleware`), then `Accept-Language` (q-values
  honoured), then English.
- `install(env)`: the Jinja global `_()` and the filters `num`, `ms` and `when`.
- `js_strings(locale)`: the part of the catalogue app.js needs, embedded in every page as JSON,
  so the browser has no catalogue of its own.

Only the HTML side is translated. The API's JSON (errors, notices) stays English because
programs read it; an answer's notice also comes as a code (`notice_code`, `notice_detail`), which
the page words from this catalogue (the English `notice` itself is worded from it too).

Why Babel for numbers and dates (and not a hand-written formatter): the CLDR data it ships
knows each locale's digit grouping, decimal sign, date order and plural rules ("1 page",
"2 pages"; Chinese has no plural), so adding a locale later means adding a catalogue, not
teaching a formatter new rules. It is pure Python with its data inside the package: nothing is
downloaded at run time.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.notices import NOTICES

DEFAULT = "en"
COOKIE = "folio_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# Locale code → its name in its own language, for the switch in the page header.
LOCALES: dict[str, str] = {"en": "English", "zh-CN": "中文"}
# Keys app.js uses are these prefixes; the rest stays on the server.
JS_PREFIXES = ("js.", "loc.", "unit.", "count.", "notice.", "ask.copy")

Text = str | dict[str, str]

CATALOGUE: dict[str, dict[str, Text]] = {
    "en": {
        # page frame
        "frame.skip": "Skip to content",
        "frame.nav": "Main",
        "frame.language": "Language",
        "frame.status": "Status",
        "frame.logout": "Log out",
        "nav.ask": "Ask",
        "nav.manuals": "Manuals",
        "nav.api": "API",
        # ask page
        "ask.heading": "Ask the manuals",
        "ask.intro": "Ask a question about your manuals. Every answer cites the manual and page "
        "it came from; select a {chip} to read the passage.",
        "ask.question": "Your question",
        "ask.placeholder": "e.g. How do I reset the pump after error E42?",
        "ask.collection": "Collection",
        "ask.all_collections": "All collections",
        "ask.new_chat": "New chat",
        "ask.submit": "Ask",
        "ask.hint": "Enter asks, Shift+Enter starts a new line. Follow-up questions keep the "
        "conversation.",
        "ask.close_panel": "Close the passage",
        "ask.sources": "Sources",
        "ask.reasoning": "Show the model's reasoning",
        "ask.copy": "Copy answer",
        "ask.helpful": "Helpful",
        "ask.not_helpful": "Not helpful",
        "ask.manuals": "Manuals:",
        "ask.choose_manuals": "Manuals to ask",
        "ask.filter_manuals": "Filter the manuals",
        "ask.filter_placeholder": "Type part of a title or file name",
        "ask.picker_hint": "Only the chosen manuals are searched; with none chosen, all are.",
        "ask.all_manuals_button": "Ask all manuals",
        "ask.no_manuals": "No manuals here yet.",
        "passage.instruction_like": "This passage contains text addressed to an AI assistant "
        "(a possible prompt injection). Folio treats it as quoted data, never as instructions.",
        "passage.open_page": "Open page {page} ↗",
        "passage.open_original": "Open the original ↗",
        # manuals page
        "manuals.drop": "Drop PDF, Word (DOCX), Markdown, HTML or text files here",
        "manuals.or_choose": "or {choose}",
        "manuals.choose": "choose files",
        "manuals.limit": "Up to {mb} MB per file. Each file is indexed in the background.",
        "manuals.collection": "Collection",
        "manuals.collection_hint": "Letters, digits, “.”, “_” or “-”.",
        "manuals.upload": "Upload",
        "manuals.jobs": "Indexing",
        "manuals.library": "Library",
        "docs.caption": "Manuals in the index",
        "docs.title": "Title",
        "docs.file": "File",
        "docs.pages": "Pages",
        "docs.passages": "Passages",
        "docs.collection": "Collection",
        "docs.indexed": "Indexed",
        "docs.status": "Status",
        "docs.actions": "Actions",
        "docs.ask": "Ask this manual",
        "docs.ask_label": "Ask this manual: {title}",
        "docs.ready": "Ready",
        "docs.failed": "Failed: {error}",
        "docs.indexing": "Indexing…",
        "docs.reindex": "Re-index",
        "docs.reindex_confirm": "Index “{title}” again? It is unavailable to questions until "
        "that finishes.",
        "docs.delete": "Delete",
        "docs.delete_confirm": "Delete “{title}” and all of its passages? This cannot be undone.",
        "docs.deleted": "Deleted {title}.",
        "docs.empty": "No manuals yet. Upload one above.",
        "jobs.progress": "Indexing {name}",
        "jobs.queued": "waiting for the indexer",
        "jobs.page_of": "indexing: page {done} of {total}",
        "jobs.ocr": "reading scanned pages (OCR): page {done} of {total}",
        "jobs.extracting": "reading the file",
        "jobs.saving": "saving",
        "jobs.starting": "starting",
        "jobs.done": "done: {passages}",
        "jobs.done_pages": "done: {pages}, {passages}",
        "jobs.unchanged": "already in the index (same content): nothing to do",
        "jobs.interrupted": "interrupted: the server stopped while indexing this file",
        "jobs.failed": "failed",
        "jobs.failed_because": "failed: {error}",
        "jobs.retry": "Retry",
        "jobs.clear": "Clear this list",
        "jobs.empty": "No uploads in the last day.",
        # status line
        "status.engine_up": "engine ready ({model})",
        "status.engine_starting": "engine starting: answers show passages only until it is ready",
        "status.engine_off": "retrieval-only: no answer engine configured",
        "status.engine_down": "engine unreachable: answers show passages only",
        "status.counts": "{manuals}, {passages}",
        "status.queued": "{n} waiting to be indexed",
        "status.last": "Last answer: retrieval {time}",
        "status.first_token": ", first token {time}",
        "status.tokens": ", {prompt} prompt + {answer} answer tokens",
        # login and errors
        "login.title": "Log in",
        "login.heading": "Log in to Folio",
        "login.no_users": "No users are configured yet. An administrator creates a password "
        "hash with {command} and sets {user} and {hash} (or adds a line to the users file).",
        "login.user": "User name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.wrong": "Wrong user name or password.",
        "error.title": "Error {code}",
        "error.404": "Not found",
        "error.403": "Not allowed",
        "error.429": "Too many requests",
        "error.other": "Something went wrong",
        "error.back": "Back to Ask",
        # shared by the templates and app.js
        "count.manuals": {"one": "{n} manual", "other": "{n} manuals"},
        "count.pages": {"one": "{n} page", "other": "{n} pages"},
        "count.passages": {"one": "{n} passage", "other": "{n} passages"},
        "unit.ms": "{v} ms",
        "unit.s": "{v} s",
        "loc.page": "p. {page}",
        "loc.page_label": "p. {label} (PDF page {page})",
        # an answer's notice: the API's `notice` (always English) and, by `notice_code`, the page
        **{f"notice.{code}": text for code, text in NOTICES.items()},
        # app.js only
        "js.empty_question": "Type a question first.",
        "js.too_long": "The question is too long ({n} of {max} characters).",
        "js.searching": "Searching the manuals…",
        "js.unreachable": "Folio cannot be reached. Check the connection and ask again.",
        "js.http_failed": "The question failed (HTTP {status}).",
        "js.reading": {
            "one": "Reading {n} passage… {time}",
            "other": "Reading {n} passages… {time}",
        },
        "js.no_passages": "No matching passages.",
        "js.all_manuals": "All manuals",
        "js.no_manual_match": "No manual matches “{q}”.",
        "js.too_many_manuals": "Choose at most {max} manuals, or ask within a collection.",
        "js.scope_manuals": "In: {manuals}",
        "js.scope_collection": "In collection: {collection}",
        "js.scope_more": "{list} and {n} more",
        "js.list_sep": ", ",
        "js.writing": "Writing the answer…",
        "js.lost": "The connection was lost before the answer finished. Ask again.",
        "js.closest": "Closest passages",
        "js.instruction_like": "contains text addressed to an AI assistant (treated as data)",
        "js.unsupported": "Not supported by any passage:",
        "js.source_label": "Source {n}: {title}, {locator}",
        "js.chip_locator": ", {locator}",
        "js.timing_retrieval": "retrieval {time}",
        "js.timing_first_token": "first token {time}",
        "js.timing_total": "total {time}",
        "js.timing_tokens": "{prompt} + {answer} tokens",
        "js.copy_sources": "Sources:",
        "js.copied": "Copied",
        "js.copy_failed": "Copy failed",
        "js.uploading_label": "Uploading {name}",
        "js.uploading": "uploading…",
        "js.too_large": "too large: the limit is {mb} MB per file",
        "js.uploaded": "uploaded; indexing below",
        "js.upload_failed": "upload failed (HTTP {status})",
        "js.upload_lost": "upload failed: the connection was lost",
    },
    "zh-CN": {
        "frame.skip": "跳到正文",
        "frame.nav": "主导航",
        "frame.language": "语言",
        "frame.status": "状态",
        "frame.logout": "退出登录",
        "nav.ask": "提问",
        "nav.manuals": "手册",
        "nav.api": "API",
        "ask.heading": "向手册提问",
        "ask.intro": "就您的手册提出问题。每个回答都注明出自哪本手册的哪一页；点击 {chip} "
        "即可阅读原文段落。",
        "ask.question": "您的问题",
        "ask.placeholder": "例如：出现 E42 错误后如何重置水泵？",
        "ask.collection": "手册集",
        "ask.all_collections": "全部手册集",
        "ask.new_chat": "新对话",
        "ask.submit": "提问",
        "ask.hint": "按 Enter 提问，Shift+Enter 换行。追问会保留对话上下文。",
        "ask.close_panel": "关闭段落",
        "ask.sources": "来源",
        "ask.reasoning": "显示模型的推理过程",
        "ask.copy": "复制回答",
        "ask.helpful": "有帮助",
        "ask.not_helpful": "没有帮助",
        "ask.manuals": "手册：",
        "ask.choose_manuals": "要提问的手册",
        "ask.filter_manuals": "筛选手册",
        "ask.filter_placeholder": "输入标题或文件名的一部分",
        "ask.picker_hint": "只检索选中的手册；一本都不选则检索全部。",
        "ask.all_manuals_button": "检索全部手册",
        "ask.no_manuals": "这里还没有手册。",
        "passage.instruction_like": "此段落包含写给 AI 助手的文字（可能是提示注入）。"
        "Folio 只把它当作引用的资料，绝不当作指令。",
        "passage.open_page": "打开第 {page} 页 ↗",
        "passage.open_original": "打开原文件 ↗",
        "manuals.drop": "将 PDF、Word (DOCX)、Markdown、HTML 或文本文件拖放到这里",
        "manuals.or_choose": "或 {choose}",
        "manuals.choose": "选择文件",
        "manuals.limit": "每个文件最大 {mb} MB。文件会在后台建立索引。",
        "manuals.collection": "手册集",
        "manuals.collection_hint": "可使用字母、数字、“.”、“_” 或 “-”。",
        "manuals.upload": "上传",
        "manuals.jobs": "索引任务",
        "manuals.library": "手册库",
        "docs.caption": "索引中的手册",
        "docs.title": "标题",
        "docs.file": "文件",
        "docs.pages": "页数",
        "docs.passages": "段落数",
        "docs.collection": "手册集",
        "docs.indexed": "索引时间",
        "docs.status": "状态",
        "docs.actions": "操作",
        "docs.ask": "向此手册提问",
        "docs.ask_label": "向此手册提问：{title}",
        "docs.ready": "就绪",
        "docs.failed": "失败：{error}",
        "docs.indexing": "正在索引…",
        "docs.reindex": "重新索引",
        "docs.reindex_confirm": "重新索引“{title}”？完成之前它无法用于回答问题。",
        "docs.delete": "删除",
        "docs.delete_confirm": "删除“{title}”及其全部段落？此操作无法撤销。",
        "docs.deleted": "已删除“{title}”。",
        "docs.empty": "还没有手册。请在上方上传。",
        "jobs.progress": "正在索引 {name}",
        "jobs.queued": "等待索引",
        "jobs.page_of": "正在索引：第 {done} 页，共 {total} 页",
        "jobs.ocr": "正在识别扫描页（OCR）：第 {done} 页，共 {total} 页",
        "jobs.extracting": "正在读取文件",
        "jobs.saving": "正在保存",
        "jobs.starting": "正在开始",
        "jobs.done": "完成：{passages}",
        "jobs.done_pages": "完成：{pages}，{passages}",
        "jobs.unchanged": "已在索引中（内容相同）：无需处理",
        "jobs.interrupted": "已中断：索引此文件时服务器停止了",
        "jobs.failed": "失败",
        "jobs.failed_because": "失败：{error}",
        "jobs.retry": "重试",
        "jobs.clear": "清空列表",
        "jobs.empty": "最近一天没有上传。",
        "status.engine_up": "引擎就绪（{model}）",
        "status.engine_starting": "引擎启动中：就绪之前回答只显示段落",
        "status.engine_off": "仅检索：未配置回答引擎",
        "status.engine_down": "引擎无法连接：回答只显示段落",
        "status.counts": "{manuals}，{passages}",
        "status.queued": "{n} 个文件等待索引",
        "status.last": "上次回答：检索 {time}",
        "status.first_token": "，首个词元 {time}",
        "status.tokens": "，提示 {prompt} + 回答 {answer} 个词元",
        "login.title": "登录",
        "login.heading": "登录 Folio",
        "login.no_users": "尚未配置任何用户。管理员用 {command} 生成密码哈希，并设置 {user} 和 "
        "{hash}（或在用户文件中添加一行）。",
        "login.user": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.wrong": "用户名或密码错误。",
        "error.title": "错误 {code}",
        "error.404": "未找到",
        "error.403": "无权访问",
        "error.429": "请求过多",
        "error.other": "出错了",
        "error.back": "返回提问",
        "count.manuals": {"other": "{n} 本手册"},
        "count.pages": {"other": "{n} 页"},
        "count.passages": {"other": "{n} 个段落"},
        "unit.ms": "{v} 毫秒",
        "unit.s": "{v} 秒",
        "loc.page": "第 {page} 页",
        "loc.page_label": "第 {label} 页（PDF 第 {page} 页）",
        "notice.no_evidence": "手册中没有足够相关的段落来回答这个问题。",
        "notice.retrieval_only": "仅检索：以下是最匹配的段落，没有生成回答。",
        "notice.engine_starting": "回答引擎仍在启动。以下是最匹配的段落，而不是生成的回答。",
        "notice.engine_down": "没有正在运行的回答引擎（{detail}）。以下是最匹配的段落，而不是生成的"
        "回答。",
        "notice.engine_failed": "回答引擎出错：{detail}。以下是最匹配的段落，而不是生成的回答。",
        "js.empty_question": "请先输入问题。",
        "js.too_long": "问题太长（{n} / {max} 个字符）。",
        "js.searching": "正在检索手册…",
        "js.unreachable": "无法连接 Folio。请检查网络连接后重新提问。",
        "js.http_failed": "提问失败（HTTP {status}）。",
        "js.reading": {"other": "正在阅读 {n} 个段落… {time}"},
        "js.no_passages": "没有匹配的段落。",
        "js.all_manuals": "全部手册",
        "js.no_manual_match": "没有与“{q}”匹配的手册。",
        "js.too_many_manuals": "最多选择 {max} 本手册，或改为在手册集中提问。",
        "js.scope_manuals": "范围：{manuals}",
        "js.scope_collection": "范围：手册集 {collection}",
        "js.scope_more": "{list} 及另外 {n} 本",
        "js.list_sep": "、",
        "js.writing": "正在撰写回答…",
        "js.lost": "回答完成之前连接中断了。请重新提问。",
        "js.closest": "最接近的段落",
        "js.instruction_like": "包含写给 AI 助手的文字（仅作为资料）",
        "js.unsupported": "没有任何段落支持以下内容：",
        "js.source_label": "来源 {n}：{title}，{locator}",
        "js.chip_locator": "，{locator}",
        "js.timing_retrieval": "检索 {time}",
        "js.timing_first_token": "首个词元 {time}",
        "js.timing_total": "总计 {time}",
        "js.timing_tokens": "{prompt} + {answer} 个词元",
        "js.copy_sources": "来源：",
        "js.copied": "已复制",
        "js.copy_failed": "复制失败",
        "js.uploading_label": "正在上传 {name}",
        "js.uploading": "正在上传…",
        "js.too_large": "文件太大：每个文件最大 {mb} MB",
        "js.uploaded": "已上传；索引进度见下方",
        "js.upload_failed": "上传失败（HTTP {status}）",
        "js.upload_lost": "上传失败：连接中断了",
    },
}


# --- choosing the locale ---------------------------------------------------------------------


def match(tag: str | None) -> str | None:
    """The supported locale for one language tag, or None.

    Exact codes match case-insensitively ("zh-cn", "en"); otherwise the language decides:
    every Chinese tag (zh, zh-Hans, zh-SG, and also zh-TW / zh-Hant, which get Simplified
    rather than English) becomes zh-CN, every English one en.
    """
    tag = (tag or "").strip().replace("_", "-").lower()
    if not tag or tag == "*":
        return None
    for code in LOCALES:
        if tag == code.lower():
            return code
    language = tag.split("-")[0]
    for code in LOCALES:
        if code.split("-")[0].lower() == language:
            return code
    return None


def negotiate(header: str | None) -> str:
    """The best supported locale for an Accept-Language header; English when none fits."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        code = match(tag)
        if code:
            return code
    return DEFAULT


def request_locale(request: Request) -> str:
    """`?lang=`, then the switch's cookie, then Accept-Language, then English."""
    return (
        match(request.query_params.get("lang"))
        or match(request.cookies.get(COOKIE))
        or negotiate(request.headers.get("accept-language"))
    )


def switch_links(request: Request, locale: str) -> list[dict[str, Any]]:
    """The header's language switch: this page again with `?lang=` set, per locale."""
    links = []
    for code, name in LOCALES.items():
        url = request.url.include_query_params(lang=code)
        href = f"{url.path}?{url.query}"
        links.append({"code": code, "name": name, "href": href, "current": code == locale})
    return links


class LanguageCookieMiddleware:
    """A request with a valid `?lang=` sets the `folio_lang` cookie on its response, whatever
    the response is (a page, a redirect to the login form, an error page), so the choice
    sticks for the pages and htmx fragments that follow."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        code = match(Request(scope).query_params.get("lang")) if scope["type"] == "http" else None
        if code is None:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={code}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax; HttpOnly"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_wrapper)


# --- words -------------------------------------------------------------------------------------


def _babel(locale: str) -> str:
    return locale.replace("-", "_")


@cache
def _plural_rule(locale: str):
    return Locale.parse(_babel(locale)).plural_form


def _lookup(locale: str, key: str, n: Any = None) -> str:
    text = CATALOGUE.get(locale, {}).get(key)
    if text is None:
        text = CATALOGUE[DEFAULT].get(key, key)
    if isinstance(text, dict):
        form = _plural_rule(locale)(abs(n)) if isinstance(n, int | float) else "other"
        text = text.get(form) or text["other"]
    return text


def _fill(locale: str, kw: dict[str, Any]) -> dict[str, Any]:
    """Numbers in placeholders are formatted for the locale (1,234); the rest as given."""
    return {
        k: format_number(v, locale) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in kw.items()
    }


def t(locale: str, key: str, /, **kw: Any) -> str:
    """The text for `key` in `locale` (English if missing), placeholders filled; `n` picks
    the plural form."""
    return _lookup(locale, key, kw.get("n")).format(**_fill(locale, kw))


def locator(locale: str, page: int | None, label: str | None, fallback: str) -> str:
    """A citation's place, as `folio.types.locator` words it, in the locale: "p. 7 (PDF page
    12)" / "第 7 页（PDF 第 12 页）"; `fallback` (the section path) when there is no page."""
    if page is None:
        return fallback
    if label and label != str(page):
        return t(locale, "loc.page_label", label=label, page=str(page))
    return t(locale, "loc.page", page=str(page))


def js_strings(locale: str) -> dict[str, Text]:
    """What app.js needs of the catalogue, for the page's JSON blob."""
    merged = {**CATALOGUE[DEFAULT], **CATALOGUE.get(locale, {})}
    return {k: v for k, v in merged.items() if k.startswith(JS_PREFIXES)}


# --- numbers and dates -------------------------------------------------------------------------


def format_number(value: float, locale: str, digits: int | None = None) -> str:
    """1234567.5 → "1,234,567.5"; `digits` fixes the decimals (1.0 → "1.0")."""
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel(locale))


def format_ms(value: float | None, locale: str) -> str:
    """A duration: "340 ms" / "1.5 s" in English, "340 毫秒" / "1.5 秒" in Chinese."""
    if value is None:
        return "–"
    if value >= 1000:
        return t(locale, "unit.s", v=format_number(value / 1000, locale, 1))
    return t(locale, "unit.ms", v=format_number(round(value), locale))


def format_when(timestamp: float | None, locale: str) -> str:
    """A moment in the server's time zone: "Dec 1, 2026, 2:05 PM" / "2026年12月1日 14:05"."""
    if not timestamp:
        return "–"
    moment = datetime.fromtimestamp(timestamp).astimezone()
    loc = _babel(locale)
    date = format_date(moment, "medium", locale=loc)
    time = format_time(moment, "short", locale=loc)
    return get_datetime_format("medium", locale=loc).replace("{1}", date).replace("{0}", time)


# --- Jinja -------------------------------------------------------------------------------------


def install(env: jinja2.Environment) -> None:
    """`_()` and the `num`, `ms` and `when` filters; templates need `locale` in their context.

    `_()` escapes the catalogue text and its arguments (manual titles are untrusted) unless an
    argument is already `Markup`, which is how a template puts markup into a sentence."""

    @jinja2.pass_context
    def gettext(ctx: jinja2.runtime.Context, key: str, /, **kw: Any) -> Markup:
        locale = ctx["locale"]
        return escape(_lookup(locale, key, kw.get("n"))).format(**_fill(locale, kw))

    env.globals["_"] = gettext
    env.filters["num"] = jinja2.pass_context(lambda ctx, v: format_number(v, ctx["locale"]))
    env.filters["ms"] = jinja2.pass_context(lambda ctx, v: format_ms(v, ctx["locale"]))
    env.filters["when"] = jinja2.pass_context(lambda ctx, v: format_when(v, ctx["locale"]))
