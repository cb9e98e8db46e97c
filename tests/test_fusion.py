"""Query fusion on the real slice: the strategies behind one interface (weighted / facet, and the learned
concat and attention fusers), the composed training examples, training the fusers, composed search
("this, but in black") through every strategy, and negative feedback ("not this colour", "not blue",
"without the logo")."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import read_catalog
from assistant.config import Settings
from assistant.encoders.base import ModelFileError
from assistant.engine import Engine
from assistant.features import FeatureCache
from assistant.fusion import STRATEGIES, LearnedFuser, WeightedFuser, load_fuser, steer
from assistant.train import CHANGE_PHRASES, composed_examples, load_training_data, train_fusers

pytestmark = pytest.mark.slow

FACETS = ("article_type", "gender", "base_colour", "usage")


def unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def products(engine: Engine) -> dict[str, dict]:
    """id → metadata of every indexed product of the slice."""
    return dict(sorted(engine.index.metadata().items()))


@pytest.fixture(scope="module")
def references(products: dict[str, dict]) -> list[tuple[str, dict]]:
    """Non-black products whose type and gender the slice also has in black (at least five of them)."""
    black = Counter((m["article_type"], m["gender"]) for m in products.values() if m["base_colour"] == "Black")
    refs = [(pid, m) for pid, m in products.items()
            if m["base_colour"] not in ("Black", "") and black[(m["article_type"], m["gender"])] >= 5]
    assert len(refs) >= 40, "the slice should hold enough composed-search references"
    return refs[::len(refs) // 8][:8]


@pytest.fixture(scope="module")
def engines(engine: Engine, settings: Settings) -> dict[str, Engine]:
    """An engine per strategy, chosen by the setting alone (same trained model folder and index)."""
    out = {settings.fusion: engine}
    for name in STRATEGIES:
        if name not in out:
            out[name] = Engine(Settings(**{**settings.__dict__, "fusion": name}), space=engine.space, index=engine.index)
    return out


# -- one interface -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["weighted", "facet", "concat", "attention"])
def test_every_strategy_loads_by_name_and_fuses_either_or_both(engine: Engine, settings: Settings,
                                                                products: dict[str, dict], name: str) -> None:
    dim = engine.space.card.dim
    fuser = load_fuser(name, settings.model_path, dim, settings.fusion_alpha)
    assert fuser.name == name
    assert isinstance(fuser, LearnedFuser if name in ("concat", "attention") else WeightedFuser)
    shirt = next(m for m in products.values() if m["article_type"] == "Shirts")
    image = engine.space.project_image(engine.read_photo(_photo(shirt["image"])).query[None])[0] * 3
    text = engine.embed_text("in black") * 0.5  # neither side need be normalised on the way in
    outs = {"photo": fuser.fuse(image, None), "words": fuser.fuse(None, text), "both": fuser.fuse(image, text)}
    for kind, v in outs.items():
        assert v.shape == (dim,) and v.dtype == np.float32, kind
        assert np.all(np.isfinite(v)) and abs(float(np.linalg.norm(v)) - 1) < 1e-4, kind
    # one side alone is that side; both together are something new, still nearer the photo than chance
    assert np.allclose(outs["photo"], image / np.linalg.norm(image), atol=1e-5)
    assert np.allclose(outs["words"], text / np.linalg.norm(text), atol=1e-5)
    both = outs["both"]
    assert 0.3 < float(both @ outs["photo"]) < 0.999 and float(both @ outs["words"]) < 0.999
    assert not np.allclose(both, fuser.fuse(image, engine.embed_text("in white")), atol=1e-3)  # the words matter
    with pytest.raises(ValueError, match="nothing to fuse"):
        fuser.fuse(None, None)


def test_weighted_is_the_normalised_weighted_average() -> None:
    rng = np.random.default_rng(1)
    a, b = unit(rng, 16), unit(rng, 16)
    for alpha in (0.0, 0.3, 1.0):
        want = alpha * a + (1 - alpha) * b
        assert np.allclose(WeightedFuser(alpha).fuse(a * 2, b), want / np.linalg.norm(want), atol=1e-6)


def test_a_missing_or_damaged_learned_fuser_names_the_file(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    for name in ("concat", "attention"):
        with pytest.raises(ModelFileError, match=re.escape(f"fusion_{name}.safetensors")):
            load_fuser(name, tmp_path, 256, 0.5)
    (tmp_path / "fusion_concat.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError, match=r"damaged.*fusion_concat\.safetensors"):
        load_fuser("concat", tmp_path, 256, 0.5)
    with pytest.raises(ValueError, match="unknown fusion strategy"):
        load_fuser("median", tmp_path, 256, 0.5)
    # an engine asked for a learned fuser whose file is missing fails the same way
    missing = Settings(**{**settings.__dict__, "fusion": "attention", "model_dir": str(tmp_path / "model")})
    with pytest.raises(ModelFileError, match=r"fusion_attention\.safetensors"):
        Engine(missing, space=engine.space, index=engine.index)


# -- training the learned fusers ------------------------------------------------------------------------------

def test_composed_examples_change_one_thing_among_train_products(settings: Settings) -> None:
    catalog = read_catalog(settings.catalog_dir)
    train_ids = catalog.train_ids()
    assert 0 < len(train_ids) < len(catalog.products)
    with FeatureCache(settings.cache_path / "features.sqlite") as cache:
        data = load_training_data(catalog, settings, cache)
    assert {p.id for p in data.products} <= train_ids  # the held-out products never become examples
    per_product = 4
    examples = composed_examples(data.products, np.random.default_rng(0), per_product)
    assert len(examples) >= len(data.products) // 2
    keys = {(p.article_type, p.gender, p.base_colour, p.usage) for p in data.products}
    per_ref = Counter(i for i, _, _ in examples)
    assert max(per_ref.values()) <= per_product
    changed = Counter()
    for i, phrase, target in examples:
        ref = data.products[i]
        assert target in keys  # some train product is the target
        ref_key = (ref.article_type, ref.gender, ref.base_colour, ref.usage)
        diff = [f for f, a, b in zip(FACETS, ref_key, target, strict=True) if a != b]
        assert diff and diff[0] != "article_type" and len(diff) == 1, (ref_key, target)  # all but the change
        value = target[FACETS.index(diff[0])].lower()
        assert value in phrase.lower(), (phrase, value)
        assert any(t.format(v=value) == phrase for t in CHANGE_PHRASES[diff[0]])
        changed[diff[0]] += 1
    assert changed["base_colour"] > changed["gender"] > 0
    again = composed_examples(data.products, np.random.default_rng(0), per_product)
    assert again == examples  # seeded


def test_train_fusers_writes_both_modules_and_a_card(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    with FeatureCache(settings.cache_path / "features.sqlite") as cache:
        data = load_training_data(read_catalog(settings.catalog_dir), settings, cache)
        metrics = train_fusers(data, engine.space, settings, cache, tmp_path)
    assert set(metrics) == {"concat", "attention"}
    card = json.loads((tmp_path / "fusion_card.json").read_text())
    assert card == metrics
    for name, m in card.items():
        assert (tmp_path / f"fusion_{name}.safetensors").is_file()
        assert m["examples"] > 0 and np.isfinite(m["final_loss"])
        assert isinstance(m["train_seconds"], float) and m["train_seconds"] >= 0
        fuser = load_fuser(name, tmp_path, engine.space.card.dim, settings.fusion_alpha)
        assert isinstance(fuser, LearnedFuser)
    # the session's first run (bootstrap) trained them into the model folder, next to the space
    for name in ("concat", "attention"):
        assert (settings.model_path / f"fusion_{name}.safetensors").is_file()
        assert isinstance(load_fuser(name, settings.model_path, engine.space.card.dim, 0.5), LearnedFuser)
    boot = json.loads((settings.model_path / "fusion_card.json").read_text())
    assert set(boot) == {"concat", "attention"} and all("train_seconds" in m for m in boot.values())
    space_card = json.loads((settings.model_path / "card.json").read_text())
    assert {"fuser_concat_seconds", "fuser_attention_seconds"} <= set(space_card["metrics"])


# -- composed search ---------------------------------------------------------------------------------------------

def test_a_photo_in_black_finds_that_type_in_black(engine: Engine, references: list[tuple[str, dict]]) -> None:
    """The default strategy: the photo says what (type, gender), the words say the change (colour)."""
    assert engine.fuser.name == "facet"
    for pid, ref in references:
        result = engine.search(text="in black", image=ref["image"], top_k=10)
        assert result.photo_facets["article_type"] == ref["article_type"]
        top = [(h.product["article_type"], h.product["base_colour"]) for h in result.hits[:5]]
        assert top == [(ref["article_type"], "Black")] * 5, (pid, ref["title"], top)
        assert pid not in result.ids[:5]


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_answers_a_composed_request(engines: dict[str, Engine], references: list[tuple[str, dict]],
                                                   name: str) -> None:
    engine = engines[name]
    assert engine.fuser.name == name
    black = same_type = photo_black = n = 0
    for _, ref in references:
        result = engine.search(text="in black", image=ref["image"], top_k=10)
        assert len(result.hits) == 10 and result.photo_facets
        black += sum(h.product["base_colour"] == "Black" for h in result.hits)
        same_type += sum(h.product["article_type"] == ref["article_type"] for h in result.hits)
        photo_black += sum(h.product["base_colour"] == "Black" for h in engine.search(image=ref["image"], top_k=10).hits)
        n += 10
    # the words change the colour (photo alone is hardly ever black: the references are not), the photo keeps the kind
    assert black / n >= 0.7, (name, black, n)
    assert photo_black / n <= 0.3
    assert same_type / n >= 0.25, (name, same_type, n)


# -- negative feedback --------------------------------------------------------------------------------------------

def test_not_this_colour_leaves_out_the_photos_colour(engine: Engine, products: dict[str, dict]) -> None:
    kinds = Counter((m["article_type"], m["gender"], m["base_colour"]) for m in products.values())

    def others(m: dict) -> int:  # the slice's products of its type and gender in another colour
        return sum(n for (t, g, c), n in kinds.items() if (t, g) == (m["article_type"], m["gender"]) and c != m["base_colour"])

    refs = [(pid, m) for pid, m in products.items() if others(m) >= 10][::40][:6]
    assert len(refs) == 6
    for _, ref in refs:
        result = engine.search(text="not this colour", image=ref["image"], top_k=10)
        seen = result.photo_facets["base_colour"]
        assert seen == ref["base_colour"]
        assert len(result.hits) == 10
        assert all(h.product["base_colour"] != seen for h in result.hits), (ref["title"], seen)
        assert sum(h.product["article_type"] == ref["article_type"] for h in result.hits[:5]) >= 4


@pytest.mark.parametrize("query", ["shirts for men not blue", "shirts for men without blue"])
def test_words_against_a_colour_leave_it_out(engine: Engine, query: str) -> None:
    plain = engine.search(text="shirts for men", top_k=24)
    assert any(h.product["base_colour"] == "Blue" for h in plain.hits)  # blue shirts are there to leave out
    result = engine.search(text=query, top_k=24)
    assert result.understanding.excluded.get("base_colour") == ("Blue",)
    assert len(result.hits) == 24
    assert not [h.product["title"] for h in result.hits if h.product["base_colour"] == "Blue"]
    assert sum(h.product["article_type"] == "Shirts" for h in result.hits) >= 20


def test_without_the_logo_steers_the_query_away(engine: Engine, references: list[tuple[str, dict]]) -> None:
    logo = engine.embed_text("logo")
    # photo + words: the fused query moves away from "logo"
    _, ref = references[0]
    u = engine.understand("without the logo")
    assert "logo" in u.negative_text
    img_q = engine.space.project_image(engine.read_photo(_photo(ref["image"])).query[None])[0]
    fused = engine.fuser.fuse(img_q, engine.embed_text(u.search_text))
    steered = engine._steered(fused, u, (), ())
    assert float(steered @ logo) < float(fused @ logo) - 0.05
    assert np.allclose(steered, steer(fused, [], [engine.embed_text(u.negative_text)]))
    # words: the query, and what comes back, are further from "logo" than the same words without the phrase
    u = engine.understand("tshirts without the logo")
    assert u.search_text == "tshirts" and "logo" in u.negative_text
    plain_q = engine.embed_text(u.search_text)
    assert float(engine._steered(plain_q, u, (), ()) @ logo) < float(plain_q @ logo) - 0.05
    plain, away = engine.search(text="tshirts", top_k=10), engine.search(text="tshirts without the logo", top_k=10)
    assert plain.ids != away.ids
    assert all(h.product["article_type"] == "Tshirts" for h in away.hits)

    def logo_sim(ids: list[str]) -> float:
        got = engine.index.get(ids, vectors=True)
        return float(np.mean([got[i][1] @ logo for i in ids]))

    assert logo_sim(away.ids) < logo_sim(plain.ids)


def _photo(path: str):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")
