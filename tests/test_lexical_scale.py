"""BM25 at scale: common terms left out of the OR query, the rarest phrases for quotes."""

from __future__ import annotations

from folio.index import COMMON_SHARE, KEEP_RAREST, fts_query, rarest_phrases

N = 10_000
DF = {
    "set": 3_000,
    "page": 2_000,
    "manual": 1_500,
    "paper": 400,
    "size": 900,
    "gutenprint": 150,
    "r": 6_000,
    "lib": 800,
    "r_libs": 12,
}


def _terms(match: str | None) -> set[str]:
    return set((match or "").split(" OR "))


def test_common_terms_are_left_out_when_rarer_ones_remain() -> None:
    question = "How do I set the paper size on the manual page in Gutenprint?"
    everything = _terms(fts_query(question))
    pruned = _terms(fts_query(question, DF, N))
    common = {f'"{t}"' for t in ("set", "page", "manual") if DF[t] > COMMON_SHARE * N}
    assert common and common <= everything
    assert pruned == everything - common
    assert {'"gutenprint"', '"paper"', '"size"'} <= pruned


def test_a_question_of_common_words_only_keeps_its_rarest_terms() -> None:
    pruned = _terms(fts_query("set the manual page", DF, N))
    assert len(pruned) == min(KEEP_RAREST, 3)
    assert pruned == {'"set"', '"manual"', '"page"'}
    two = _terms(fts_query("set page", DF, N))
    assert two == {'"set"', '"page"'}


def test_an_identifier_phrase_counts_as_rare_as_its_rarest_part() -> None:
    pruned = _terms(fts_query("Where is R_LIBS set for the manual page?", DF, N))
    # the phrase "r lib r_libs" holds the common "r" and is kept for its rare whole token
    assert pruned == {'"r lib r_libs"', '"r_libs"', '"lib"'}  # its part "lib": 800


def test_without_frequencies_nothing_is_left_out() -> None:
    question = "How do I set the paper size on the manual page in Gutenprint?"
    assert _terms(fts_query(question)) == _terms(fts_query(question, None, 0))


def test_rarest_phrases_keep_their_order() -> None:
    phrases = [["set", "page", "size"], ["page", "size", "gutenprint"], ["manual", "page", "set"]]
    phrases += [["paper", "size", "set"]]
    assert rarest_phrases(phrases, DF, 2) == [
        ["page", "size", "gutenprint"],
        ["paper", "size", "set"],
    ]
    assert rarest_phrases(phrases, DF, 10) == phrases
