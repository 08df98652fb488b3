"""The audit log: one JSON line per event, hash-chained, rotated, readable and verifiable, and
one chain even when two processes append at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.audit import Action, AuditLog, log_files, read, verify

ROOT = Path(__file__).resolve().parents[1]


def _fill(directory: Path, n: int = 5, **kw) -> AuditLog:
    log = AuditLog(directory, **kw)
    for i in range(n):
        log.record(
            Action.ASK, f"user{i}", question=f"question {i}", cited=[{"doc": "a.pdf", "page": i}]
        )
    return log


def _lines(directory: Path) -> tuple[Path, list[str]]:
    path = log_files(directory)[-1]
    return path, path.read_text().splitlines()


def test_an_untouched_log_verifies_and_reads_back_in_order(tmp_path: Path) -> None:
    _fill(tmp_path, 5)
    result = verify(tmp_path)
    assert result.ok and result.lines == 5
    assert [r["actor"] for r in read(tmp_path)] == [f"user{i}" for i in range(5)]


def test_a_deleted_line_is_detected(tmp_path: Path) -> None:
    _fill(tmp_path, 5)
    path, lines = _lines(tmp_path)
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    result = verify(tmp_path)
    assert not result.ok
    assert any("removed" in p and ":3" in p for p in result.problems), result.problems


def test_an_edited_line_is_detected(tmp_path: Path) -> None:
    _fill(tmp_path, 5)
    path, lines = _lines(tmp_path)
    record = json.loads(lines[1])
    record["question"] = "something harmless"
    lines[1] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    result = verify(tmp_path)
    assert any("edited" in p and ":2" in p for p in result.problems), result.problems


def test_a_removed_tail_is_detected_by_head(tmp_path: Path) -> None:
    _fill(tmp_path, 5)
    path, lines = _lines(tmp_path)
    path.write_text("\n".join(lines[:-1]) + "\n")
    assert not verify(tmp_path).ok


def test_secrets_are_never_written(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.record(Action.LOGIN_FAILED, "alice", password="hunter22", token="fk_secret", key="k")
    text = log_files(tmp_path)[0].read_text()
    assert "hunter22" not in text and "fk_secret" not in text
    assert json.loads(text)["actor"] == "alice"


def test_files_rotate_by_size_and_the_chain_spans_them(tmp_path: Path) -> None:
    _fill(tmp_path, 12, max_bytes=600)
    files = log_files(tmp_path)
    assert len(files) > 2
    result = verify(tmp_path)
    assert result.ok and result.lines == 12 and result.files == len(files)


def test_old_files_expire_and_the_rest_still_verifies(tmp_path: Path) -> None:
    _fill(tmp_path, 3)
    old = tmp_path / "audit-20000101.jsonl"
    log_files(tmp_path)[0].rename(old)
    AuditLog(tmp_path, retention_days=30).record(Action.SEARCH, "bob", query="x")
    assert not old.exists()
    assert verify(tmp_path).lines == 1


def test_two_processes_appending_keep_one_chain(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from services.audit import AuditLog, Action\n"
        "log = AuditLog(Path(sys.argv[1]))\n"
        "for i in range(150): log.record(Action.SEARCH, sys.argv[2], query=str(i))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name], cwd=ROOT)
        for name in ("a", "b")
    ]
    for p in procs:
        assert p.wait(60) == 0
    result = verify(tmp_path)
    assert result.ok, result.problems[:3]
    assert result.lines == 300


def test_folio_audit_verify_exits_1_on_tampering(tmp_path: Path) -> None:
    data = tmp_path / "index"
    _fill(data / "audit", 4)
    cmd = [sys.executable, "-m", "cli", "--data-dir", str(data), "audit", "verify"]
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    path, lines = _lines(data / "audit")
    path.write_text("\n".join(lines[1:]) + "\n")
    bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "tampered" in bad.stdout


@pytest.mark.parametrize("flt,expected", [({"actor": "user1"}, 1), ({"action": "ask"}, 4)])
def test_folio_audit_filters_by_actor_and_action(tmp_path: Path, flt, expected) -> None:
    data = tmp_path / "index"
    _fill(data / "audit", 4)
    args = [a for k, v in flt.items() for a in (f"--{k}", v)]
    run = subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(data), "audit", *args, "--json"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(rows) == expected and all(r.get(k) == v for r in rows for k, v in flt.items())
