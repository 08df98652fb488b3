"""The sensitive-term filter: whole-word Latin terms, Chinese anywhere, regexes, reload on
change, and a stream masked piece by piece that adds up to the masked whole."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from services.terms import MASK, BlockedTerms

TERMS = "# project code names\nBluebird\n机密\nre:PRJ-\\d{3,}\nre:(unbalanced\n"


@pytest.fixture
def terms(tmp_path: Path) -> BlockedTerms:
    path = tmp_path / "blocked.txt"
    path.write_text(TERMS, encoding="utf-8")
    return BlockedTerms(path)


@pytest.mark.parametrize(
    "text,blocked",
    [
        ("When does bluebird ship?", True),
        ("What is Bluebirds' status?", False),  # another word
        ("这份机密文件在哪里", True),
        ("Where is PRJ-4711 documented?", True),
        ("Where is PRJ-47 documented?", False),
        ("How do I reset the router?", False),
    ],
)
def test_questions_are_blocked_by_whole_terms_and_regexes(
    terms: BlockedTerms, text: str, blocked: bool
) -> None:
    assert terms.blocks(text) is blocked


def test_a_bad_regex_line_is_skipped_not_fatal(terms: BlockedTerms) -> None:
    assert terms.blocks("(unbalanced") is False
    assert terms.blocks("bluebird")


def test_an_edit_to_the_file_takes_effect_without_restart(
    terms: BlockedTerms, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.terms

    monkeypatch.setattr(services.terms, "RECHECK_S", 0.0)  # the file is looked at once a second
    assert not terms.blocks("falcon")
    time.sleep(0.01)
    terms.path.write_text(TERMS + "falcon\n", encoding="utf-8")
    os.utime(terms.path, (time.time() + 2, time.time() + 2))
    assert terms.blocks("the Falcon launch")


def test_no_file_configured_blocks_nothing() -> None:
    assert not BlockedTerms(None).blocks("Bluebird")
    assert BlockedTerms(None).mask("Bluebird") == "Bluebird"


ANSWER = (
    "Bluebird ships in May [1]. 该项目是机密的，编号 PRJ-1234 [2]. "
    "Not bluebirds, but Bluebird again, and PRJ-99."
)


def test_masking_replaces_every_match(terms: BlockedTerms) -> None:
    masked = terms.mask(ANSWER)
    assert "Bluebird " not in masked and "机密" not in masked and "PRJ-1234" not in masked
    assert "bluebirds" in masked and "PRJ-99" in masked
    assert masked.count(MASK) == 4


@pytest.mark.parametrize("seed", range(25))
def test_a_stream_cut_anywhere_adds_up_to_the_masked_answer(terms: BlockedTerms, seed) -> None:
    rng = random.Random(seed)
    masker, shown, i = terms.masker(), [], 0
    while i < len(ANSWER):
        n = rng.randint(1, 6)
        piece = masker.push(ANSWER[i : i + n])
        assert "Bluebird " not in "".join(shown) + piece
        shown.append(piece)
        i += n
    shown.append(masker.flush())
    assert "".join(shown) == terms.mask(ANSWER)
