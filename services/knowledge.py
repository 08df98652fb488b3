"""Retrieval for Dify's External Knowledge API: Folio's hybrid search over one collection, each
passage scored by a relevance Dify can threshold, filtered by Dify's metadata conditions.

Score. Dify wants 0-1 and filters on `score_threshold`. Folio's ranking score (reciprocal rank
fusion) is neither bounded nor comparable between queries, so each record carries the cosine
similarity between the question and the passage's chunk (negative values as 0): the same number
`FOLIO_MIN_RELEVANCE` judges, so a threshold means the same thing in Dify as in Folio. Records
keep Folio's hybrid order, which is better than cosine order (an exact error code found by BM25
comes first even when its cosine is lower). A passage found by BM25 alone has no cosine from
the dense search; its stored vector gives one (one extra query embedding, only then). With the
packaged English-only embedder the cosines of Chinese questions are low and say little: leave
Dify's score threshold off for them.

Metadata conditions are applied to each record's metadata after the search, over the 50 best
passages, so `top_k` records still come back when some are filtered out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.search import Hits
from retrieval.search import search as run_search
from services.answer import passage_dict
from services.errors import ServiceError
from services.qa import file_url
from services.runtime import Runtime

MAX_K = 50
FIELDS = ("doc", "doc_id", "title", "collection", "page", "page_label", "locator", "section", "url")
STRING_OPS = {"contains", "not contains", "start with", "end with", "is", "is not",
              "empty", "not empty", "in", "not in"}  # fmt: skip
NUMBER_OPS = {"=": "=", "≠": "≠", "!=": "≠", ">": ">", "<": "<", "≥": "≥", ">=": "≥",
              "≤": "≤", "<=": "≤"}  # fmt: skip
DATE_OPS = {"before", "after"}

# What a Dify record says of its passage: the passage fields every Folio API returns.
METADATA_KEYS = ("doc", "doc_id", "title", "collection", "page", "page_label", "locator", "section")


@dataclass(frozen=True)
class Condition:
    names: tuple[str, ...]
    op: str
    value: Any = None


def check_conditions(conditions: Sequence[Condition]) -> None:
    """422 for an operator Folio cannot apply, before anything is searched."""
    for c in conditions:
        if c.op in DATE_OPS:
            raise ServiceError(
                422,
                f"metadata_condition: {c.op!r} compares dates, and Folio's records carry none "
                f"(their metadata: {', '.join(FIELDS)})",
            )
        if c.op not in STRING_OPS and c.op not in NUMBER_OPS:
            raise ServiceError(422, f"metadata_condition: unknown comparison_operator {c.op!r}")
        if c.op in NUMBER_OPS and _number(c.value) is None:
            raise ServiceError(422, f"metadata_condition: {c.op!r} needs a number, not {c.value!r}")


def matches(metadata: dict[str, Any], conditions: Sequence[Condition], logic: str) -> bool:
    """Whether a record passes Dify's conditions (`logic` "and" or "or"). A condition naming
    several fields holds when it holds for any of them; an unknown field is empty."""
    if not conditions:
        return True
    results = (any(_holds(metadata.get(n), c) for n in c.names) for c in conditions)
    return any(results) if logic == "or" else all(results)


def _holds(value: Any, c: Condition) -> bool:
    if c.op in ("empty", "not empty"):
        return (value in (None, "")) == (c.op == "empty")
    if c.op in NUMBER_OPS:
        a, b = _number(value), _number(c.value)
        if a is None or b is None:
            return NUMBER_OPS[c.op] == "≠"
        return {"=": a == b, "≠": a != b, ">": a > b, "<": a < b, "≥": a >= b, "≤": a <= b}[
            NUMBER_OPS[c.op]
        ]
    text = "" if value is None else str(value).casefold()
    if c.op in ("in", "not in"):
        wanted = c.value if isinstance(c.value, list) else [c.value]
        found = text in {str(w).casefold() for w in wanted if w is not None}
        return found == (c.op == "in")
    target = "" if c.value is None else str(c.value).casefold()
    return {
        "contains": target in text,
        "not contains": target not in text,
        "start with": text.startswith(target),
        "end with": text.endswith(target),
        "is": text == target,
        "is not": text != target,
    }[c.op]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cosines(rt: Runtime, query: str, hits: Hits) -> dict[str, float]:
    """Chunk id -> cosine for every passage in `hits`, in [0, 1]."""
    ids = [p.chunk.id for p in hits.passages]
    found = {cid: hits.cosine[cid] for cid in ids if cid in hits.cosine}
    missing = [cid for cid in ids if cid not in found]
    if missing:
        vector = rt.embedder.embed_query(query, threads=rt.settings.query_threads)
        for cid, stored in rt.pool.get().vectors(missing).items():
            found[cid] = float(np.dot(stored, vector))
    return {cid: min(max(v, 0.0), 1.0) for cid, v in found.items()}


def retrieve(
    rt: Runtime,
    collection: str,
    query: str,
    *,
    top_k: int | None,
    threshold: float,
    conditions: Sequence[Condition] = (),
    logic: str = "and",
    base_url: str,
) -> list[dict[str, Any]]:
    """Blocking: run it in a thread. Dify's records, best first."""
    k = min(top_k or rt.settings.top_k, MAX_K)
    hits = run_search(
        rt.pool, rt.embedder, rt.settings, query,
        k=MAX_K if conditions else k, collections=[collection],
    )  # fmt: skip
    scores = cosines(rt, query, hits)
    records = []
    for p in hits.passages:
        score = round(scores.get(p.chunk.id, 0.0), 4)
        if score < threshold:
            continue
        shown = passage_dict(p)
        metadata = {k: shown[k] for k in METADATA_KEYS}
        metadata["url"] = base_url.rstrip("/") + file_url(p.chunk.doc_id, p.page)
        if not matches(metadata, conditions, logic):
            continue
        records.append({"content": p.body, "score": score, "title": p.title, "metadata": metadata})
        if len(records) == k:
            break
    return records
