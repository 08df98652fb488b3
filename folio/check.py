"""`folio check [--repair]`: does the registry agree with Chroma, FTS and the stored originals?

A document is searchable through three stores written at different moments (vectors in Chroma,
rows and FTS in SQLite, the original under `files/`). The all-or-nothing ingest keeps them in step
for one writer; this check proves it after the fact (two concurrent writers, a disk that filled,
an operator who deleted files by hand) and repairs what can be repaired without the originals'
owners: missing vectors are re-embedded from the stored chunk text, FTS rows without a chunk,
vectors without a ready document, originals no document names and stale spool and upload
folders are removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from folio.index import Index
from folio.leftovers import stale_folders
from folio.types import DocStatus


@dataclass
class Problem:
    kind: str  # a short code, e.g. "missing_vector"
    detail: str
    repaired: bool = False


@dataclass
class Report:
    documents: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return all(p.repaired for p in self.problems)

    def add(self, kind: str, detail: str) -> Problem:
        p = Problem(kind, detail)
        self.problems.append(p)
        return p


def check(
    index: Index,
    *,
    repair: bool = False,
    reembed: Callable[[list[str]], object] | None = None,
    spool_root: Path | None = None,
) -> Report:
    """Check every ready document; with `repair`, fix what can be fixed. `reembed(chunk_ids)`
    rewrites the vectors of those chunks (the caller owns the embedder)."""
    db = index.db
    report = Report()
    ready = {r[0]: r for r in db.execute(
        "SELECT id, name, chunks, stored_file FROM documents WHERE status=?", (DocStatus.READY,)
    )}  # fmt: skip
    report.documents = len(ready)
    chunk_rows = db.execute("SELECT id, doc_id, rowid FROM chunks").fetchall()
    report.chunks = sum(1 for r in chunk_rows if r[1] in ready)
    by_doc: dict[str, list[str]] = {}
    for cid, doc_id, _ in chunk_rows:
        by_doc.setdefault(doc_id, []).append(cid)

    for doc_id, (_, name, expected, _) in ready.items():
        have = len(by_doc.get(doc_id, []))
        if have != expected:
            report.add("chunk_count", f"{name}: registry says {expected} chunks, {have} stored")

    # FTS rows without a chunk (they keep a removed manual's words "known")
    orphans = [r[0] for r in db.execute(
        "SELECT rowid FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)")]  # fmt: skip
    if orphans:
        p = report.add("fts_orphan", f"{len(orphans)} FTS rows without a chunk")
        if repair:
            with index._tx():
                for i in range(0, len(orphans), 500):
                    part = orphans[i : i + 500]
                    db.execute(
                        f"DELETE FROM chunks_fts WHERE rowid IN ({','.join('?' * len(part))})",
                        part,
                    )
            p.repaired = True
    dup = db.execute(
        "SELECT COUNT(*) - COUNT(DISTINCT rowid) FROM chunks_fts").fetchone()[0]  # fmt: skip
    if dup:
        report.add("fts_duplicate", f"{dup} duplicate FTS rows")

    # every ready chunk has a vector that Chroma can return
    ready_ids = [cid for doc_id in ready for cid in by_doc.get(doc_id, [])]
    missing = _missing_vectors(index, ready_ids)
    if missing:
        p = report.add("missing_vector", f"{len(missing)} chunks without a retrievable vector")
        if repair and reembed is not None:
            reembed(missing)
            p.repaired = not _missing_vectors(index, missing)

    # vectors whose document is not ready (a crash after the vectors, a retired version)
    stray = _stray_vectors(index, set(ready))
    if stray:
        p = report.add("stray_vector", f"{len(stray)} vectors of no ready document")
        if repair:
            for i in range(0, len(stray), 500):
                index.collection.delete(ids=stray[i : i + 500])
            p.repaired = True

    # originals no document names
    files_dir = index.settings.files_dir
    if files_dir.is_dir():
        named = {Path(r[0]).name for r in db.execute(
            "SELECT stored_file FROM documents WHERE stored_file IS NOT NULL")}  # fmt: skip
        extra = [f for f in files_dir.iterdir() if f.is_file() and f.name not in named]
        if extra:
            p = report.add("orphan_file", f"{len(extra)} stored originals of no document")
            if repair:
                for f in extra:
                    f.unlink(missing_ok=True)
                p.repaired = True
        for _, name, _, stored in ready.values():
            if stored and not Path(stored).exists():
                report.add("missing_file", f"{name}: original {stored} is gone")

    # spool and upload folders of processes that are gone (folio.leftovers)
    stale = stale_folders(index.settings.data_dir, spool_root)
    if stale:
        p = report.add("stale_folder", ", ".join(str(s) for s in stale))
        if repair:
            for s in stale:
                shutil.rmtree(s, ignore_errors=True)
            p.repaired = True
    return report


def _missing_vectors(index: Index, ids: list[str]) -> list[str]:
    """Ids Chroma cannot return a vector for, asked in batches, then one by one on an error."""
    missing: list[str] = []
    col = index.collection
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        try:
            got = col.get(ids=part, include=["embeddings"])
        except Exception:  # noqa: BLE001 - Chroma raises on unreadable vectors; find which
            for cid in part:
                try:
                    one = col.get(ids=[cid], include=["embeddings"])
                    if not one["ids"]:
                        missing.append(cid)
                except Exception:  # noqa: BLE001
                    missing.append(cid)
            continue
        missing += sorted(set(part) - set(got["ids"]))
    return missing


def _stray_vectors(index: Index, ready: set[str]) -> list[str]:
    from folio.types import chunk_doc_id

    col = index.collection
    stray: list[str] = []
    total = col.count()
    for offset in range(0, total, 5000):
        ids = col.get(include=[], limit=5000, offset=offset)["ids"]
        stray += [cid for cid in ids if chunk_doc_id(cid) not in ready]
    return stray
