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
