"""Two `folio ingest` processes on one data dir (overlapping files): both succeed, the second
waits for the first, and every chunk is found afterwards by its own text through dense search.

Before the write lock, two writers both exited 0 while Chroma lost vectors of both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from folio.settings import Settings
from services.build import open_index
from tests.fixtures import make_pdf

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["pump priming", "filter cleaning", "belt tension", "valve timing", "fan noise",
          "boiler pressure"]  # fmt: skip


def _manual(path: Path, topic: str) -> Path:
    pages = [f"{topic.title()} manual, model {path.stem.upper()}."] + [
        f"Section {i} on {topic}: step {i} uses tool T{i}{path.stem} and takes {i * 3} minutes."
        for i in range(1, 5)
    ]
    return make_pdf(path, pages, title=f"{topic.title()} Manual")


def test_two_writers_on_one_index_lose_nothing(tmp_path):
    files = [_manual(tmp_path / f"m{i}.pdf", t) for i, t in enumerate(TOPICS)]
    data = tmp_path / "index"
    cmd = [sys.executable, "-m", "cli", "--data-dir", str(data), "ingest"]
    first = subprocess.Popen([*cmd, *map(str, files[:4])], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    second = subprocess.Popen([*cmd, *map(str, files[2:])], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs

    private_tmp = tmp_path / "tmp"  # spool folders of other runs on this machine are not ours
    private_tmp.mkdir()
    check = subprocess.run([sys.executable, "-m", "cli", "--data-dir", str(data), "check"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "TMPDIR": str(private_tmp)})  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr

    index, embedder = open_index(Settings(data_dir=data))
    rows = index.db.execute(
        "SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE d.status = 'ready'"
    ).fetchall()
    assert index.db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == len(rows)
    assert len({r[0].rsplit("-", 1)[0] for r in rows}) == len(files)
    lost = []
    for cid, text in rows:
        found = [c for c, _ in index.dense(embedder.embed_query(text), 3)]
        if cid not in found:
            lost.append(cid)
    assert lost == [], f"{len(lost)} of {len(rows)} chunks not found by their own text"
