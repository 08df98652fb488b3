"""The Docker tests: they need a Docker daemon and the image (`make image`); run them with
`make test-deploy` (which starts dockerd when none answers). Each skips, saying why, when the
daemon or the image is missing. They are not part of `make test` or CI (minutes, not seconds)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

IMAGE = os.environ.get("FOLIO_TEST_IMAGE", "folio:latest")


def docker(
    *args: str, check: bool = True, timeout: float = 600, **kw
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, **kw
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result


@pytest.fixture(scope="session")
def docker_ready() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker client (apt-get install docker.io)")
    if docker("info", check=False, timeout=30).returncode != 0:
        pytest.skip("no Docker daemon answers (make test-deploy starts one)")


@pytest.fixture(scope="session")
def image(docker_ready: None) -> str:
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} not built (make image)")
    return IMAGE
