"""The Chroma index, embedded (PersistentClient) and against a real Chroma server (`chroma run`): filters,
cosine scores, upsert / delete / hashes, and a server that goes away and comes back."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import Product
from assistant.index import Filters, IndexUnavailable, ProductIndex
from bench.app import free_port
from bench.scale import ChromaServer

DIM = 8
# id, gender, base_colour, brand, article_type, usage, price, sale_price
ROWS = [
    ("p1", "Men", "Black", "Nike", "Sports Shoes", "Sports", 3000, 2400),
    ("p2", "Women", "Black", "Catwalk", "Heels", "Casual", 1800, 1200),
    ("p3", "Women", "Red", "Catwalk", "Heels", "Party", 1500, None),
    ("p4", "Men", "Navy Blue", "Roadster", "Shirts", "Casual", 999, 699),
    ("p5", "Unisex", "White", "Puma", "Casual Shoes", "Casual", 2500, 2500),
    ("p6", "Women", "Blue", "Nike", "Tshirts", "Sports", 1200, 800),
    ("p7", "Boys", "Red", "Puma", "Tshirts", "Casual", 500, 450),
    ("p8", "Men", "Black", "Titan", "Watches", "Formal", None, None),  # no price
    ("p9", "Girls", "Pink", "Catwalk", "Flats", "Casual", 700, 700),
    ("p10", "Women", "White", "Nike", "Sports Shoes", "Sports", 4000, 3500),
]


def products() -> list[Product]:
    return [Product(id=i, title=f"{b} {g} {c} {t}", image=f"/photos/{i}.jpg", brand=b, gender=g, base_colour=c,
                    article_type=t, usage=u, price=p, sale_price=s, category="Apparel")
            for i, g, c, b, t, u, p, s in ROWS]


def vectors(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(len(ROWS), DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


JOINT, PHOTOS = vectors(1), vectors(2)


@pytest.fixture(params=["embedded", "server"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory of empty ProductIndex objects on the embedded store or the session's Chroma server."""
    def make(prefix: str | None = None) -> ProductIndex:
        prefix = prefix or f"t{uuid.uuid4().hex[:10]}"
        if request.param == "embedded":
            return ProductIndex(tmp_path / "index", prefix=prefix)
        server = request.getfixturevalue("chroma_server")
        return ProductIndex(None, server.host, server.port, prefix=prefix)
    return make


@pytest.fixture
def filled(make_index) -> ProductIndex:
    index = make_index()
    ps = products()
    index.upsert([p.id for p in ps], JOINT, PHOTOS, [{**p.metadata(), "hash": f"h-{p.id}"} for p in ps])
    return index


def brute_force(query: np.ndarray, filters: Filters, vecs: np.ndarray = JOINT) -> list[str]:
    """Every product passing the filters, by cosine similarity (the ground truth)."""
    keep = []
    for p, v in zip(products(), vecs, strict=True):
        m = p.metadata()
        price = m["sale_price"]
        if filters.min_price is not None and not price >= filters.min_price:
            continue
        if filters.max_price is not None and not 0 <= price <= filters.max_price:
            continue
        checks = [("gender", filters.gender), ("article_type", filters.article_type), ("base_colour", filters.colour),
                  ("brand", filters.brand), ("usage", filters.usage), ("category", filters.category)]
        if any(vals and m[key] not in vals for key, vals in checks):
            continue
        if m["brand"] in filters.exclude_brand or m["base_colour"] in filters.exclude_colour or p.id in filters.exclude_ids:
            continue
        keep.append((float(v @ query), p.id))
    return [i for _, i in sorted(keep, reverse=True)]


FILTERS = [
    Filters(),
    Filters(max_price=1000),
    Filters(min_price=1000),
    Filters(min_price=700, max_price=2400),
    Filters(gender=("Women",)),
    Filters(gender=("Men", "Unisex")),
    Filters(colour=("Black",)),
    Filters(colour=("Red", "White")),
    Filters(brand=("Nike",)),
    Filters(article_type=("Heels", "Flats")),
    Filters(usage=("Sports",)),
    Filters(category=("Apparel",)),
    Filters(exclude_colour=("Black",)),
    Filters(exclude_brand=("Nike", "Puma")),
    Filters(exclude_ids=("p1", "p2", "p3")),
    Filters(gender=("Women",), colour=("Black", "Red"), max_price=1300),
    Filters(brand=("Nike",), exclude_colour=("White",), min_price=100),
    Filters(gender=("Nobody",)),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.where() or "none")[:60] + str(f.exclude_ids))
def test_filters_give_only_matching_products(filled: ProductIndex, filters: Filters) -> None:
    q = JOINT[0] + 0.5 * JOINT[5]
    hits = filled.query(q, len(ROWS), filters)
    assert [h.id for h in hits] == brute_force(q / np.linalg.norm(q), filters)
    for h in hits:
        meta = h.metadata
        if filters.max_price is not None:
            assert 0 <= meta["sale_price"] <= filters.max_price
        if filters.gender:
            assert meta["gender"] in filters.gender
        if filters.colour:
            assert meta["base_colour"] in filters.colour
        assert meta["base_colour"] not in filters.exclude_colour and h.id not in filters.exclude_ids


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.where() or "none")[:60] + str(f.exclude_ids))
def test_the_vectorised_mask_agrees_with_matches(filled: ProductIndex, filters: Filters) -> None:
    cols = filled.columns()
    assert [filters.matches(filled.metadata()[i]) for i in cols.ids] == filters.mask(cols).tolist()


PATHS = {  # (EXACT_LIMIT, OVERFETCH_LIMIT, ID_FILTER_LIMIT) that send a filtered search down each path
    "exact": (1_000, 0, 0), "overfetch": (0, 1_000, 0), "ids": (0, 0, 1_000), "where": (0, 0, 0)}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("filters", FILTERS[1:], ids=lambda f: str(f.where() or "none")[:60] + str(f.exclude_ids))
def test_every_filtered_search_path_is_exact(filled: ProductIndex, filters: Filters, path: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pool too small for the fast path, the index reaches the matching products by ranking
    their vectors itself, by a wider unfiltered search, by naming them to Chroma, or by a `where`
    clause (which one depends on how many match); each gives the exact answer."""
    for name, value in zip(("EXACT_LIMIT", "OVERFETCH_LIMIT", "ID_FILTER_LIMIT"), PATHS[path], strict=True):
        monkeypatch.setattr(f"assistant.index.{name}", value)
    taken: list[str] = []
    nearest, exact = filled._nearest, filled._exact
    monkeypatch.setattr(filled, "_nearest", lambda v, n, where, photos, ids=None: taken.append(
        "ids" if ids is not None else "where" if where is not None else f"pool {n}") or nearest(v, n, where, photos, ids))
    monkeypatch.setattr(filled, "_exact", lambda *a: taken.append("exact") or exact(*a))
    q = JOINT[3] - 0.3 * JOINT[7]
    hits = filled.query(q, 3, filters, pool=1)
    expected = brute_force(q / np.linalg.norm(q), filters)[:3]
    assert [h.id for h in hits] == expected
    if len(expected) == 3 and len(taken) > 1:  # the one-product pool was not enough: the path was taken
        if path == "overfetch":  # a second, wider unfiltered search
            assert taken[-1].startswith("pool") and int(taken[-1].split()[1]) > int(taken[0].split()[1]), taken
        else:
            assert taken[-1] == path, taken


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_rare_filter_still_fills_k(filled: ProductIndex, k: int) -> None:
    """The nearest products may all fail the filter; the index must still find the k that pass."""
    q = JOINT[0]  # p1 is a man's shoe; the filter asks for girls' products only (one: p9)
    hits = filled.query(q, k, Filters(gender=("Girls", "Boys")))
    assert [h.id for h in hits] == brute_force(q, Filters(gender=("Girls", "Boys")))[:k]


def test_scores_are_cosine_similarities(filled: ProductIndex) -> None:
    for i in (0, 4):
        hits = filled.query(JOINT[i] * 7.5, len(ROWS))  # the length of the query does not matter
        assert hits[0].id == ROWS[i][0] and hits[0].score == pytest.approx(1.0, abs=1e-4)
        for h in hits:
            j = [r[0] for r in ROWS].index(h.id)
            assert h.score == pytest.approx(float(JOINT[j] @ JOINT[i]), abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    opposite = filled.query(-JOINT[2], len(ROWS))
    assert opposite[-1].id == "p3" and opposite[-1].score == pytest.approx(-1.0, abs=1e-4)
    photo = filled.query(PHOTOS[3], 1, photos=True)  # the photo collection holds the photo vectors
    assert photo[0].id == "p4" and photo[0].score == pytest.approx(1.0, abs=1e-4)


def test_upsert_delete_hashes(filled: ProductIndex) -> None:
    assert filled.count() == len(ROWS)
    assert filled.hashes() == {r[0]: f"h-{r[0]}" for r in ROWS}
    p4 = products()[3]
    new = np.roll(JOINT[3], 1)[None]
    filled.upsert(["p4"], new, PHOTOS[3:4], [{**p4.metadata(), "sale_price": 599.0, "hash": "h-p4-v2"}])
    assert filled.count() == len(ROWS)
    assert filled.hashes()["p4"] == "h-p4-v2"
    meta, vec = filled.get(["p4"], vectors=True)["p4"]
    assert meta["sale_price"] == 599.0 and np.allclose(vec, new[0], atol=1e-6)
    assert filled.query(new[0], 1)[0].id == "p4"
    filled.delete(["p1", "p2"])
    assert filled.count() == len(ROWS) - 2
    assert "p1" not in filled.hashes()
    assert {h.id for h in filled.query(JOINT[0], len(ROWS))}.isdisjoint({"p1", "p2"})
    assert {h.id for h in filled.query(PHOTOS[0], len(ROWS), photos=True)}.isdisjoint({"p1", "p2"})
    assert filled.get(["p1"]) == {}
    filled.delete([])  # nothing to do is fine


def test_facet_values_and_get(filled: ProductIndex) -> None:
    facets = filled.facet_values()
    assert facets["gender"] == {"Men": 3, "Women": 4, "Unisex": 1, "Boys": 1, "Girls": 1}
    assert facets["brand"]["Catwalk"] == 3
    got = filled.get(["p2", "p9", "nope"], vectors=True, photos=True)
    assert set(got) == {"p2", "p9"}
    assert np.allclose(got["p9"][1], PHOTOS[8], atol=1e-6)
    assert got["p2"][0]["title"] == "Catwalk Women Black Heels"


def test_empty_index(make_index) -> None:
    index = make_index()
    assert index.count() == 0 and index.hashes() == {}
    assert index.query(JOINT[0], 5) == [] and index.query(JOINT[0], 5, Filters(max_price=10)) == []


def test_data_persists_for_a_new_index_object(make_index) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = make_index(prefix)
    ps = products()[:3]
    first.upsert([p.id for p in ps], JOINT[:3], PHOTOS[:3], [p.metadata() for p in ps])
    again = make_index(prefix)
    assert again.count() == 3 and again.query(JOINT[1], 1)[0].id == "p2"


def test_server_down_then_back(tmp_path: Path) -> None:
    """Stopping the server makes calls raise IndexUnavailable (a clear message, not a stack of HTTP errors);
    once it is back on the same port, the same ProductIndex works again."""
    server = ChromaServer(tmp_path / "chroma").start()
    try:
        index = ProductIndex(None, server.host, server.port, prefix="restart")
        ps = products()
        index.upsert([p.id for p in ps], JOINT, PHOTOS, [p.metadata() for p in ps])
        assert index.query(JOINT[1], 1)[0].id == "p2"

        server.stop()
        for call in (lambda: index.query(JOINT[1], 3), index.count, lambda: index.query(PHOTOS[0], 2, photos=True),
                     lambda: index.upsert(["x"], JOINT[:1], PHOTOS[:1], [ps[0].metadata()])):
            with pytest.raises(IndexUnavailable, match="unavailable") as err:
                call()
            assert f"{server.host}:{server.port}" in str(err.value)  # says which store
            assert "Traceback" not in str(err.value) and len(str(err.value)) < 300

        server.start()
        assert index.count() == len(ROWS)
        hits = index.query(JOINT[1], 3, Filters(gender=("Women",)))
        assert hits[0].id == "p2" and all(h.metadata["gender"] == "Women" for h in hits)
    finally:
        server.stop()


def test_no_server_at_all() -> None:
    port = free_port()
    with pytest.raises(IndexUnavailable, match=f"unavailable.*127.0.0.1:{port}"):
        index = ProductIndex(None, "127.0.0.1", port, prefix="nothing")
        index.count()
