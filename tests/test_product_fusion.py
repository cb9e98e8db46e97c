"""Product-side fusion comparison (`bench/product_fusion.py`): the in-memory index scores products the
way each scheme says and runs the engine's real search path, so the comparison measures only the scheme."""

from __future__ import annotations

import numpy as np

from assistant.encoders.base import normalise
from assistant.index import Filters
from bench.product_fusion import MemoryIndex

RNG = np.random.default_rng(3)
IDS = ["a", "b", "c", "d"]
METAS = [{"gender": "Men", "sale_price": 500.0}, {"gender": "Women", "sale_price": 900.0},
         {"gender": "Men", "sale_price": 1500.0}, {"gender": "Women", "sale_price": 300.0}]
PHOTO = normalise(RNG.standard_normal((4, 8)).astype(np.float32))
WORDS = normalise(RNG.standard_normal((4, 8)).astype(np.float32))
RAW = RNG.standard_normal((4, 16)).astype(np.float32)


def test_late_fusion_scores_are_the_weighted_cosines() -> None:
    q = normalise(RNG.standard_normal((1, 8)).astype(np.float32))[0]
    index = MemoryIndex(IDS, METAS, PHOTO, WORDS, RAW, b=0.3)
    expected = 0.3 * PHOTO @ q + 0.7 * WORDS @ q
    hits = index.query(q, 4)
    assert [h.id for h in hits] == [IDS[i] for i in np.argsort(-expected)]
    assert np.allclose([h.score for h in hits], np.sort(expected)[::-1], atol=1e-6)


def test_summed_vectors_and_filters() -> None:
    summed = normalise(0.5 * PHOTO + 0.5 * WORDS)
    index = MemoryIndex(IDS, METAS, summed, summed, RAW, b=1.0)
    q = summed[2]
    assert index.query(q, 1)[0].id == "c"
    assert [h.id for h in index.query(q, 4, Filters(gender=("Women",), max_price=800))] == ["d"]
    assert index.query(RAW[1], 1, photos=True)[0].id == "b"  # photo search uses the raw photo features
