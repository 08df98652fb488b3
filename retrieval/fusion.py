"""Reciprocal-rank fusion and near-duplicate removal: pure functions over ranked ids."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

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


@lru_cache(maxsize=2048)
def shingles(text: str, n: int = 5) -> frozenset[int]:
    """The text's runs of n index terms, as hashes (compared within one process only).

    Remembered per text: a search compares up to 3k passages, and the same manual pages come
    back across questions. Profiled under 8 HTTP clients (py-spy, GIL held), computing them
    was 21% of the server's Python time; ~10 KB a text, 20 MB at most."""
    return frozenset(map(hash, lang.shingles(lang.index_terms(text), n)))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)  # the union's size without building it
    return inter / (len(a) + len(b) - inter)


def near_duplicates(texts: Sequence[str], threshold: float = 0.8) -> set[int]:
    """Indexes of texts that nearly repeat an earlier (better-ranked) one."""
    seen: list[frozenset[int]] = []
    dup = set()
    for i, text in enumerate(texts):
        sh = shingles(text)
        # Jaccard is at most the smaller set's size over the larger's: skip pairs that
        # cannot reach the threshold without intersecting them.
        if any(
            _sizes_allow(len(sh), len(s), threshold) and jaccard(sh, s) >= threshold for s in seen
        ):
            dup.add(i)
        else:
            seen.append(sh)
    return dup


def _sizes_allow(a: int, b: int, threshold: float) -> bool:
    return bool(a and b) and min(a, b) >= threshold * max(a, b)
