"""The embedded CPU engine: llama.cpp's own OpenAI-compatible server, via the xllamacpp wheel.

The server runs in a child process (`python -m generation.engine ...`) rather than in Folio's
own process because xllamacpp's `Server` cannot be stopped from Python (it lives until the
object is collected), holds a ~1 GB model, and a native crash in it must not take the web app
down. The caller talks to it over HTTP like to any other OpenAI-compatible server, so dev (this
engine) and production (vLLM) share one client.

The child must never outlive Folio. `EngineHandle.stop()` terminates it and is registered with
atexit; for the cases atexit misses (SIGKILL, a crash of the parent) the child watches a pipe on
its stdin, whose write end only the parent holds: when the parent dies, by whatever means, the
kernel closes it and the child exits. That also covers starting the engine from a worker thread,
where prctl(PR_SET_PDEATHSIG) would fire when the *thread* exits. PDEATHSIG is still set on Linux
as a second line of defence when the engine is started from the main thread.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import importlib.util
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from folio.settings import Settings
from generation.models import InvalidModelFile, check_gguf

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


class EngineStartError(RuntimeError):
    """The local engine could not be started; the message says why and what to do."""


@dataclass
class EngineHandle:
    """A running engine child process and how to reach it."""

    base_url: str  # http://host:port/v1
    model: str  # the name requests should send as "model"
    process: subprocess.Popen[bytes]
    log_path: Path
    started_s: float = 0.0  # seconds from spawn to a healthy /health
    delete_log: bool = False  # the log is our temp file: removed on stop
    _stopped: bool = field(default=False, repr=False)

    @property
    def running(self) -> bool:
        return not self._stopped and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL); safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        proc = self.process
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self.delete_log:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> EngineHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_engine(
    settings: Settings,
    model_path: Path,
    *,
    timeout_s: float = 180.0,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
) -> EngineHandle:
    """Start the llama.cpp server on settings.engine_host:engine_port and wait until healthy.

    Fails fast, before spawning anything, when xllamacpp is missing, the model file is missing
    or not a complete GGUF, or the port is taken. The server answers to the model name
    `settings.llm_model` (and the file's stem), so a client built from the same settings works.
    """
    if importlib.util.find_spec("xllamacpp") is None:
        raise EngineStartError(
            "the local engine needs the xllamacpp package: pip install -e '.[engine]', "
            "or point FOLIO_LLM_BASE_URL at an OpenAI-compatible server"
        )
    model_path = Path(model_path)
    if not model_path.is_file():
        raise EngineStartError(
            f"model file not found: {model_path}. Run `folio engine install` to download the "
            "default model, or set FOLIO_ENGINE_MODEL_PATH to a GGUF file"
        )
    try:
        check_gguf(model_path)
    except InvalidModelFile as exc:
        raise EngineStartError(f"{exc}. Reinstall it with `folio engine install`") from exc

    host, port = settings.engine_host, settings.engine_port
    if not port_free(host, port):
        raise EngineStartError(
            f"port {port} on {host} is already in use; stop whatever holds it or set "
            "FOLIO_ENGINE_PORT to a free port"
        )
    delete_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="folio-engine-", suffix=".log")
        os.close(fd)
        log_path = Path(name)

    model = settings.llm_model
    cmd = [
        sys.executable, "-m", "generation.engine",
        "--model", str(model_path), "--host", host, "--port", str(port),
        "--threads", str(settings.engine_threads), "--ctx", str(settings.engine_ctx),
        "--alias", model, "--alias", model_path.stem, "--parent-pid", str(os.getpid()),
        *extra_args,
    ]  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # the lifeline; see the module docstring
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_pdeathsig if _can_pdeathsig() else None,
        )
    handle = EngineHandle(
        base_url=f"http://{_url_host(host)}:{port}/v1",
        model=model,
        process=proc,
        log_path=log_path,
        delete_log=delete_log,
    )
    atexit.register(handle.stop)
    t0 = time.monotonic()
    try:
        _wait_healthy(handle, timeout_s)
    except BaseException:
        handle.stop()
        raise
    handle.started_s = time.monotonic() - t0
    return handle


def engine_reachable(base_url: str, timeout: float = 2.0) -> bool:
    """True when an OpenAI-compatible server answers GET {base_url}/models with 200."""
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def port_free(host: str, port: int) -> bool:
    """Whether we could bind host:port now (SO_REUSEADDR, as the server does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_healthy(handle: EngineHandle, timeout_s: float) -> None:
    health = handle.base_url.removesuffix("/v1") + "/health"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while True:
            code = handle.process.poll()
            if code is not None:
                raise EngineStartError(
                    f"the engine exited with code {code} while starting.\n{handle.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if http.get(health).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise EngineStartError(
                    f"the engine did not become healthy within {timeout_s:.0f} s "
                    f"(log: {handle.log_path}).\n{handle.log_tail()}"
                )
            time.sleep(0.1)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _can_pdeathsig() -> bool:
    # PDEATHSIG follows the creating *thread*; from any other thread it would kill the engine
    # as soon as that thread ends.
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


def _pdeathsig() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# --- the child process --------------------------------------------------------------------


def _watch_parent(parent_pid: int) -> None:
    """Exit when our stdin (the parent's pipe) closes or we are re-parented."""
    fd = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready and not os.read(fd, 4096):
            os._exit(0)
        if os.getppid() != parent_pid:
            os._exit(0)


def serve(args: argparse.Namespace) -> int:
    """Load the model into xllamacpp's Server and keep the process alive."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.batch_threads or args.threads
    params.use_jinja = True  # chat templates from the GGUF; without it templates misrender
    params.model_alias = set(args.alias)  # a set here: a str would become a set of characters
    params.warmup = not args.no_warmup
    try:
        server = xlc.Server(params)
    except RuntimeError as exc:
        print(f"folio-engine: cannot start llama.cpp server: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"folio-engine: ready on {server.listening_address}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.parent_pid:  # started by start_engine: stdin is the parent's pipe
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    while True:
        time.sleep(3600)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m generation.engine", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-threads", type=int, default=0, help="prompt threads; 0 = same")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--alias", action="append", default=[])
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args(argv)
    args.alias = args.alias or [Path(args.model).stem]
    return args


if __name__ == "__main__":
    sys.exit(serve(_parse(None)))
