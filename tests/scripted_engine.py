"""A scripted OpenAI-compatible chat server: a real HTTP server on 127.0.0.1 that streams a
fixed answer in fixed pieces, so a test knows exactly what "the model" wrote and where the
stream cut it. The scenario is the first path segment of the base URL:
http://127.0.0.1:PORT/<scenario>/v1.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Each piece is one content delta; ("reasoning", text) is a reasoning delta instead.
Script = list[str | tuple[str, str]]

# An answer over the pump manual (tests/web/conftest.py PUMP_PAGES) with what the final check
# repairs: a marker cut across chunks that points nowhere ("[" then "7]"), a claim no passage
# supports, a supported sentence without a marker (Folio adds it), "[1, 7]" and a list.
PUMP_EN: Script = [
    "To prime the pump, open valve V3, fill the housing with clean water, then close V3 [",
    "7]. The pump ships with a lifetime warr",
    "anty from the factory [1",
    "]. If error E42 appears, switch the pump off and let it cool for 30 minutes before restar",
    "ting it",
    ".\nSteps:\n1. Open valve V3 [1, ",
    "7].\n2. Fill the housing with clean water [",
    "9",
    "].",
]
# The same in Chinese, cut inside markers and after full-width end marks.
PUMP_ZH: Script = [
    "灌泵时先打开阀门 V3，向泵壳注满清水，然后关闭 V3 [",
    "7]。出现 E42 错误时说明电机过热，应立即关闭水泵，冷却 30 分钟后再重新启动 [1",
    "]。打开泵壳之前，请务必先断开电源，以免触电。水泵享有终身保修 [2",
    "]。每运行 2000 小时更换一次叶轮，并检查密封件是否老化",
    "。",
    "如有疑问，请联系售后服务。",
]
# gpt-oss through a server that strips the harmony special tokens, cut inside both names.
PUMP_STRIPPED_HARMONY: Script = [
    "anal",
    "ysisThe user asks how to prime. Passage 1 says open V3.assist",
    "antfin",
    "alOpen valve V3 and fill the housing with clean water [",
    "1].",
]
SCRIPTS: dict[str, Script] = {
    "pump-en": PUMP_EN,
    "pump-zh": PUMP_ZH,
    "pump-harmony-stripped": PUMP_STRIPPED_HARMONY,
}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c1", "object": "chat.completion.chunk", "model": "scripted", "choices": choices,
            **extra}  # fmt: skip


class ScriptedEngine:
    """Serve SCRIPTS (plus `scripts`), `delay_s` between pieces."""

    def __init__(
        self, scripts: dict[str, Script] | None = None, delay_s: float = 0.0, port: int = 0
    ) -> None:
        self.scripts = {**SCRIPTS, **(scripts or {})}
        self.delay_s = delay_s
        self.requests: list[dict] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode()
                self.send_response(200 if self.path.endswith("/models") else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                scenario = self.path.strip("/").split("/")[0]
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                engine.requests.append(request)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self._event(chunk({"role": "assistant", "content": ""}))
                for piece in engine.scripts[scenario]:
                    if engine.delay_s:
                        time.sleep(engine.delay_s)
                    kind, text = piece if isinstance(piece, tuple) else ("content", piece)
                    field = "reasoning_content" if kind == "reasoning" else "content"
                    self._event(chunk({field: text}))
                self._event(chunk({}, finish="stop"))
                usage = {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90}
                self._event(chunk(None, usage=usage))
                self._event("[DONE]")

            def _event(self, payload: dict | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {text}\n\n".encode())
                self.wfile.flush()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> ScriptedEngine:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, scenario: str) -> str:
        """The base URL (FOLIO_LLM_BASE_URL) that plays `scenario`."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{scenario}/v1"

    @staticmethod
    def text(scenario: str) -> str:
        """What the model wrote in `scenario` (content only, as one string)."""
        return "".join(p for p in SCRIPTS[scenario] if isinstance(p, str))
