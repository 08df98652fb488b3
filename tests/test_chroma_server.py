"""FOLIO_CHROMA_SERVER against a real `chroma run` process: ingest, search and delete through
Folio, over plain HTTP and over TLS with a token (a proxy made here in front of the same server,
as sites put one: Chroma's own server has neither), and the one-line errors for bad values."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from folio.chroma_server import ChromaServerError, ChromaUnavailable, parse_chroma_server
from folio.settings import Settings, settings_error
from ingest.pipeline import ingest_paths
from retrieval.search import search
from services.build import open_index
from tests.chroma_proxy import TokenTLSProxy, make_ca_and_cert
from tests.fixtures import make_pdf

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "Contents: mounting, wiring, alarms.",
    "Mounting. Fix the Vela controller to a DIN rail with the clip at the bottom.",
    "Alarms. Alarm A17 means the supply voltage fell below 18 volts for two seconds.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_binary() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory):
    """A `chroma run` on a free loopback port, its data in a temp dir; skipped only if the
    server binary is missing or does not start."""
    binary = _chroma_binary()
    if binary is None:
        pytest.skip(
            "no `chroma` server binary next to this Python or on PATH (pip install chromadb)"
        )
    port = _free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [binary, "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.skip(f"`chroma run` exited with {proc.returncode}: see {folder / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.skip("`chroma run` did not answer its heartbeat within 60 s")
        time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _server_vectors(port: int) -> int:
    """Vectors in Folio's collection on the server, asked of the server itself."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    names = [c.name for c in client.list_collections()]
    return client.get_collection("folio_chunks").count() if "folio_chunks" in names else 0


def _folio(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **env}, timeout=600,
    )  # fmt: skip


def test_cli_ingests_searches_and_deletes_through_a_chroma_server(tmp_path, chroma_port):
    make_pdf(tmp_path / "vela.pdf", PAGES, title="Vela Controller Manual")
    data = tmp_path / "index"
    env = {"FOLIO_DATA_DIR": str(data), "FOLIO_CHROMA_SERVER": f"127.0.0.1:{chroma_port}"}
    before = _server_vectors(chroma_port)

    ingested = _folio("ingest", str(tmp_path / "vela.pdf"), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    added = _server_vectors(chroma_port) - before
    assert added >= len(PAGES)
    assert not (data / "chroma").exists(), "vectors went to the embedded store, not the server"

    found = _folio("search", "what does alarm A17 mean", "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert '"page": 3' in found.stdout.split("}")[0]

    removed = _folio("rm", "vela.pdf", env=env)
    assert removed.returncode == 0, removed.stderr
    assert _server_vectors(chroma_port) == before


def test_https_with_ca_file_and_token_reaches_the_server(tmp_path, chroma_port):
    ca, cert, key = make_ca_and_cert(tmp_path)
    make_pdf(tmp_path / "vela.pdf", PAGES, title="Vela Controller Manual")
    with TokenTLSProxy(chroma_port, "s3cret-token", cert, key) as proxy:
        settings = Settings(
            data_dir=tmp_path / "index", chroma_server=f"https://127.0.0.1:{proxy.port}",
            chroma_ca_file=ca, chroma_auth_token=SecretStr("s3cret-token"),
        )  # fmt: skip
        index, embedder = open_index(settings)
        results = ingest_paths([tmp_path / "vela.pdf"], settings, index=index, embedder=embedder)
        assert [r.status for r in results] == ["ingested"]
        hits = search(index, embedder, settings, "what does alarm A17 mean", k=3)
        assert hits.passages and hits.passages[0].page == 3
        index.delete(results[0].doc_id)
        assert search(index, embedder, settings, "alarm A17", k=3).passages == []
        assert proxy.requests > 0 and proxy.refused == 0


def test_wrong_token_or_untrusted_certificate_is_one_line_naming_the_setting(tmp_path, chroma_port):
    ca, cert, key = make_ca_and_cert(tmp_path)
    with TokenTLSProxy(chroma_port, "s3cret-token", cert, key) as proxy:
        server = f"https://127.0.0.1:{proxy.port}"
        cases = {
            "wrong token": dict(chroma_ca_file=ca, chroma_auth_token=SecretStr("nope")),
            "no CA file": dict(chroma_auth_token=SecretStr("s3cret-token")),
        }
        for case, extra in cases.items():
            settings = Settings(data_dir=tmp_path / case, chroma_server=server, **extra)
            index, _ = open_index(settings)
            with pytest.raises(ChromaUnavailable) as caught:
                _ = index.collection
            message = str(caught.value)
            assert "FOLIO_CHROMA_SERVER" in message and server in message, case
            assert "\n" not in message, case
        assert proxy.refused >= 1


def test_server_that_is_down_is_one_line_and_exit_2(tmp_path):
    port = _free_port()  # nothing listens there
    r = _folio("search", "alarm", env={
        "FOLIO_DATA_DIR": str(tmp_path / "i"), "FOLIO_CHROMA_SERVER": f"127.0.0.1:{port}",
    })  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"http://127.0.0.1:{port} (FOLIO_CHROMA_SERVER) did not answer" in " ".join(
        r.stderr.split()
    )


@pytest.mark.parametrize(
    ("value", "host", "port", "tls"),
    [
        ("db-host", "db-host", 8000, False),
        ("db-host:8001", "db-host", 8001, False),
        ("http://db-host:8001", "db-host", 8001, False),
        ("https://db-host", "db-host", 443, True),
        ("HTTPS://db-host:9443/", "db-host", 9443, True),
        ("[::1]:8001", "::1", 8001, False),
        ("  10.0.0.5:8001 ", "10.0.0.5", 8001, False),
    ],
)
def test_address_forms_are_parsed(value, host, port, tls):
    address = parse_chroma_server(value)
    assert (address.host, address.port, address.ssl) == (host, port, tls)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("db-host:", "port"),
        ("db-host:abc", "port"),
        ("db-host:70000", "port"),
        (":8001", "no host"),
        ("ftp://db-host", "scheme"),
        ("http://db-host:8001/chroma", "path"),
        ("http://user:pw@db-host", "FOLIO_CHROMA_AUTH_TOKEN"),
        ("", "empty"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason(value, reason):
    with pytest.raises(ChromaServerError, match=reason):
        parse_chroma_server(value)
    with pytest.raises(ValidationError) as caught:
        Settings(chroma_server=value)
    line = settings_error(caught.value)
    assert line.startswith("FOLIO_CHROMA_SERVER: ") and reason in line and "\n" not in line


def test_cli_prints_a_bad_address_as_one_configuration_line(tmp_path):
    r = _folio("docs", env={"FOLIO_DATA_DIR": str(tmp_path), "FOLIO_CHROMA_SERVER": "db:abc"})
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert r.stderr.startswith("configuration error: FOLIO_CHROMA_SERVER: 'db:abc'")


def test_ca_file_without_https_is_a_configuration_error(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValidationError) as caught:
        Settings(chroma_server="db-host:8001", chroma_ca_file=ca)
    assert "FOLIO_CHROMA_SERVER is not https://" in settings_error(caught.value)
