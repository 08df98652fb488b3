"""What the zero-egress tests share: reading strace's connect() records, and the user's path
through a running Folio (upload a manual, search, ask) over its HTTP API."""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# strace -e trace=connect,sendto,sendmsg: the address of every socket Folio (and any process it
# starts: the parser workers, the llama.cpp server) connects or sends to.
_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(connect|sendto|sendmsg)\((\d+),\s*(.*)$")
_FAMILY = re.compile(r"sa_family=(AF_[A-Z0-9]+)")
_INET = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'inet_pton\(AF_INET6,\s*"([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


@dataclass(frozen=True)
class Connect:
    pid: int
    call: str
    family: str
    address: str | None
    port: int | None
    line: str

    @property
    def leaves_the_host(self) -> bool:
        """An IP address that is not loopback (a unix socket or netlink never leaves)."""
        if self.family not in ("AF_INET", "AF_INET6") or self.address is None:
            return False
        address = ipaddress.ip_address(self.address)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return not (address.is_loopback or address.is_unspecified)


def parse_strace(text: str) -> list[Connect]:
    """Every call in an strace log that names a socket address (sendto on a connected socket
    names none and is covered by that socket's connect)."""
    found = []
    for line in text.splitlines():
        m = _CALL.match(line.strip())
        if not m or "sa_family=" not in line:
            continue
        family = _FAMILY.search(line)
        inet = _INET.search(line) or _INET6.search(line)
        port = _PORT.search(line)
        found.append(
            Connect(
                pid=int(m.group(1)), call=m.group(2),
                family=family.group(1) if family else "?",
                address=inet.group(1) if inet else None,
                port=int(port.group(1)) if port else None, line=line.strip(),
            )
        )  # fmt: skip
    return found


def wait_healthy(base: str, timeout: float, want_engine: bool = False) -> dict:
    """Poll /health until it answers (and, with want_engine, until the engine is up)."""
    deadline = time.monotonic() + timeout
    last: dict | str = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(base + "/health", timeout=2)
            last = r.json()
            if r.status_code == 200 and (not want_engine or last.get("engine_state") == "up"):
                return last
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{base}/health not ready in {timeout:.0f} s: {last}")


def upload_and_wait(
    base: str, pdf: Path, headers: dict | None = None, timeout: float = 180
) -> dict:
    with pdf.open("rb") as f:
        r = httpx.post(
            base + "/api/v1/documents", files={"file": (pdf.name, f, "application/pdf")},
            headers=headers or {}, timeout=60,
        )  # fmt: skip
    r.raise_for_status()
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=headers or {}, timeout=10).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise TimeoutError(f"ingest job {job_id} not finished in {timeout:.0f} s")


def search(base: str, query: str, headers: dict | None = None) -> list[dict]:
    r = httpx.post(
        base + "/api/v1/search", json={"query": query, "k": 3}, headers=headers or {}, timeout=60
    )
    r.raise_for_status()
    return r.json()["passages"]


def ask(base: str, question: str, *, retrieval_only: bool, headers: dict | None = None) -> dict:
    r = httpx.post(
        base + "/api/v1/ask", json={"question": question, "retrieval_only": retrieval_only},
        headers=headers or {}, timeout=300,
    )  # fmt: skip
    r.raise_for_status()
    return r.json()
