from retrieval.fusion import near_duplicates, rrf


def test_rrf_rewards_agreement():
    fused = dict(rrf([["a", "b", "c"], ["c", "a", "d"]], k=60))
    assert fused["a"] > fused["c"] > fused["b"] > fused["d"]


def test_rrf_weights_and_order():
    ranked = rrf([["x"], ["y"]], k=1, weights=[1.0, 2.0])
    assert [d for d, _ in ranked] == ["y", "x"]


def test_near_duplicates_keeps_first():
    base = "press and hold the reset button for ten seconds until the light blinks twice"
    texts = [base, base + " now", "a completely different passage about paper trays and ink"]
    assert near_duplicates(texts) == {1}


def test_skipping_pairs_by_size_finds_the_same_duplicates_as_comparing_all():
    import random

    from retrieval.fusion import jaccard, shingles

    rnd = random.Random(3)
    words = "pump valve filter pressure sensor relay fuse motor seal gasket impeller".split()
    base = [" ".join(rnd.choices(words, k=rnd.randint(20, 60))) for _ in range(6)]

    def variant(t: str) -> str:
        tail = " ".join(rnd.choices(words, k=rnd.randint(1, 15)))
        return t if rnd.random() < 0.5 else f"{t} {tail}"

    texts = [variant(t) for t in rnd.choices(base, k=40)]
    reference, seen = set(), []
    for i, text in enumerate(texts):
        sh = shingles(text)
        if any(jaccard(sh, s) >= 0.8 for s in seen):
            reference.add(i)
        else:
            seen.append(sh)
    assert reference and near_duplicates(texts) == reference
    assert len(reference) < len(texts) - len(base)  # some longer variants are kept
