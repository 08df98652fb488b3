"""Reciprocal-rank fusion and near-duplicate removal: pure functions over ranked ids."""

from __future__ import annotations

from collections.abc import Sequence

from folio import text as lang


def rrf(
    rankings: Sequence[Sequence[str]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked lists: score(d) = sum_i w_i / (k + rank_i(d)), best first.

    RRF needs no score calibration between BM25 and cosine, which is why it is the default way
    to fuse them.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def shingles(text: str, n: int = 5) -> set[str]:
    return set(lang.shingles(lang.index_terms(text), n))


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def near_duplicates(texts: Sequence[str], threshold: float = 0.8) -> set[int]:
    """Indexes of texts that nearly repeat an earlier (better-ranked) one."""
    seen: list[set[str]] = []
    dup = set()
    for i, text in enumerate(texts):
        sh = shingles(text)
        if any(jaccard(sh, s) >= threshold for s in seen):
            dup.add(i)
        else:
            seen.append(sh)
    return dup
