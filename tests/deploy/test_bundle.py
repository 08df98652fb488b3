"""install.sh on a copy of the bundle (`make bundle`): the intact copy verifies; one byte changed
in the image tar, or a file the sums do not list, makes it refuse before any `docker load`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "bundle"


@pytest.fixture()
def bundle_copy(tmp_path: Path) -> Path:
    """Hard links of the bundle (no 3 GB copy), except the image tar: a real copy to damage."""
    if not (BUNDLE / "SHA256SUMS").exists() or not (BUNDLE / "images" / "folio.tar").exists():
        pytest.skip("no bundle in dist/bundle (make bundle)")
    copy = tmp_path / "bundle"
    subprocess.run(["cp", "-al", str(BUNDLE), str(copy)], check=True)
    tar = copy / "images" / "folio.tar"
    tar.unlink()
    shutil.copyfile(BUNDLE / "images" / "folio.tar", tar)
    return copy


@pytest.fixture()
def docker_spy(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH where `docker` records its arguments before running nothing: a load would show."""
    bin_dir, log = tmp_path / "bin", tmp_path / "docker-calls.log"
    bin_dir.mkdir()
    spy = bin_dir / "docker"
    spy.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    spy.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


def _install(copy: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(copy / "install.sh"), *args], capture_output=True, text=True, env=env,
        timeout=900,
    )  # fmt: skip


def test_intact_bundle_verifies_and_loads(bundle_copy: Path, docker_spy) -> None:
    env, log = docker_spy
    r = _install(bundle_copy, env)
    assert r.returncode == 0, r.stderr
    assert "all files match SHA256SUMS" in r.stdout
    assert "load -i images/folio.tar" in log.read_text()


def test_one_byte_changed_in_the_image_tar_is_refused(bundle_copy: Path, docker_spy) -> None:
    env, log = docker_spy
    tar = bundle_copy / "images" / "folio.tar"
    with tar.open("r+b") as f:
        f.seek(tar.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))
    r = _install(bundle_copy, env)
    assert r.returncode == 1
    assert "images/folio.tar: FAILED" in r.stderr and "refusing to install" in r.stderr
    assert not log.exists(), f"docker was called: {log.read_text()}"


def test_a_file_not_in_the_sums_is_refused(bundle_copy: Path, docker_spy) -> None:
    env, log = docker_spy
    (bundle_copy / "images" / "extra.tar").write_bytes(b"not signed")
    r = _install(bundle_copy, env, "--check")
    assert r.returncode == 1
    assert "not in SHA256SUMS: images/extra.tar" in r.stderr
    assert not log.exists()


def test_wheelhouse_installs_folio_and_its_model_with_no_network(tmp_path: Path) -> None:
    """pip install --no-index from the wheelhouse, then the engine's model from the same wheels,
    inside a network namespace with only loopback (nothing could be fetched if it tried)."""
    wheels = BUNDLE / "wheelhouse"
    if not wheels.is_dir():
        pytest.skip("no wheelhouse in dist/bundle (make bundle)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace (unshare -n)")
    venv = tmp_path / "venv"
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
        "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
        "HF_HUB_OFFLINE": "1",
        "FOLIO_ENGINE_DIR": str(tmp_path / "engine"), "FOLIO_DATA_DIR": str(tmp_path / "index"),
    }  # fmt: skip
    script = (
        f"pip install -q --no-index --find-links {wheels} 'folio[engine]' && "
        "folio engine --install && folio docs --json"
    )
    r = subprocess.run(
        ["unshare", "-n", "sh", "-c", script], env=env, capture_output=True, text=True,
        timeout=1800, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "engine" / "qwen2.5-coder-1.5b.gguf").stat().st_size > 1_000_000_000
    assert r.stdout.strip().endswith("[]")
