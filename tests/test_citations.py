"""Citation parsing, checking and repair (pure functions, no model)."""

from generation.citations import check, is_refusal, parse_markers, support

PASSAGES = [
    "Replace the HEPA filter (part AQF-30) every 12 months or when the indicator turns red.",
    "Hold RESET for 3 seconds until the filter indicator turns green.",
]


def test_parse_markers_forms():
    assert parse_markers("a [1] b [2, 3] c [4-6] d [7][8]") == [1, 2, 3, 4, 5, 6, 7, 8]


def test_supported_citation_kept():
    res = check("Hold RESET for 3 seconds until the indicator turns green [2].", PASSAGES)
    assert res.used == [2]
    assert res.sentences[0].supported and not res.sentences[0].added


def test_invalid_marker_dropped():
    res = check("Replace the HEPA filter every 12 months [7].", PASSAGES)
    assert "[7]" not in res.text
    assert res.invalid == [7]
    # and the sentence is re-attached to the passage that supports it
    assert res.used == [1] and res.sentences[0].added == [1]


def test_wrong_citation_repointed_and_flagged():
    res = check("Replace the HEPA filter AQF-30 every 12 months [2].", PASSAGES)
    assert res.sentences[0].added == [1]
    assert "[1]" in res.text


def test_unsupported_claim_is_marked_not_cited():
    res = check("The unit ships with a lifetime warranty from the factory [1].", PASSAGES)
    s = res.sentences[0]
    assert not s.supported and s.cited == [1] and not s.added


def test_uncited_supported_sentence_gets_citation():
    res = check("Hold RESET for 3 seconds.", PASSAGES)
    assert res.sentences[0].added == [2]
    assert res.text.endswith("[2].")


def test_refusal_detected():
    assert is_refusal("The manuals do not cover this.")
    assert is_refusal("I'm sorry, the passages do not contain information about Wi-Fi.")
    assert not is_refusal("Hold RESET for 3 seconds [2].")
    # the contract lets the model refuse in its own words
    assert is_refusal("The manuals do not cover the question of Wi-Fi setup.")
    assert is_refusal("None of the passages is about exporting to Excel.")
    assert is_refusal("The passages are not about PAM or Kerberos.")
    assert is_refusal("The manuals don't mention AirPrint.")
    assert check("The manuals do not cover this.", PASSAGES).refused


def test_support_is_a_share_of_content_words():
    assert support("filter indicator turns green", PASSAGES[1]) == 1.0
    assert support("completely unrelated words", PASSAGES[1]) == 0.0


def test_lists_keep_their_lines():
    answer = "To reset:\n1. Hold RESET for 3 seconds [2].\n2. Check the indicator turns green [2]."
    res = check(answer, PASSAGES)
    assert res.text.count("\n") == 2


def test_a_number_the_passage_does_not_hold_makes_the_sentence_unsupported():
    passage = "The dynamic HTML help server of R listens on a port chosen at start-up."
    assert support("R's dynamic HTML help server listens on port 3493.", passage) == 0.0
    assert support("R's dynamic HTML help server listens on a port chosen at start-up.",
                   passage) >= 0.5  # fmt: skip
    checked = check("The help server listens on port 3493 [1].", [passage])
    assert not checked.sentences[0].supported
