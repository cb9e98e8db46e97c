"""Prebuilt bundles: written from a trained model and a catalog, checksummed, loaded into Chroma instead of
embedding (a changed product is embedded afresh), a first start that installs the bundle's model instead of
training; and the demo catalog shipped in the repository with its bundle."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FASHION, ROOT, write_catalog

from assistant.bootstrap import ensure_ready
from assistant.bundle import KEYS, MANIFEST, VECTORS, load_prebuilt, serves, sha256, verify
from assistant.catalog import product_hash, read_catalog
from assistant.config import DEMO_BUNDLE, DEMO_CATALOG, Settings
from assistant.encoders import ModelFileError
from assistant.engine import Engine
from assistant.features import photo_keys
from assistant.index import ProductIndex
from assistant.ingest import bundle_catalog, ingest

pytestmark = pytest.mark.slow


def cache_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM features").fetchone()[0]


@pytest.fixture(scope="module")
def bundled(engine: Engine, settings: Settings, slice_rows: list[dict], tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, Path]:
    """A 30-product catalog (photos copied in, as the demo's are) and its bundle beside it."""
    root = tmp_path_factory.mktemp("bundled")
    rows = [{**r, "image": f"images/{Path(r['image']).name}"} for r in slice_rows[:30]]
    (root / "shop" / "images").mkdir(parents=True)
    for r in rows:
        shutil.copyfile(FASHION / r["image"], root / "shop" / r["image"])
    catalog = write_catalog(root / "shop", rows)
    bundle_catalog(catalog, engine.space, settings, root / "bundle")
    return catalog, root / "bundle"


def test_bundle_files_are_checksummed_and_every_model_file_rides_along(bundled: tuple[Path, Path],
                                                                       settings: Settings) -> None:
    catalog, bundle = bundled
    manifest = verify(bundle)
    model_files = sorted(str(p.relative_to(settings.model_path)) for p in settings.model_path.rglob("*") if p.is_file())
    assert sorted(n.removeprefix("model/") for n in manifest["files"] if n.startswith("model/")) == model_files
    assert {VECTORS, KEYS} <= set(manifest["files"]) and manifest["products"] == 30
    assert serves(bundle, catalog) and not serves(bundle, FASHION)
    prebuilt = load_prebuilt(bundle)
    assert prebuilt.joint.dtype == np.float16 and prebuilt.photos.shape == (30, prebuilt.photos.shape[1])


def test_writing_a_bundle_again_gives_the_same_bytes(bundled: tuple[Path, Path], engine: Engine, settings: Settings,
                                                     tmp_path: Path) -> None:
    catalog, bundle = bundled
    again = bundle_catalog(catalog, engine.space, settings, tmp_path / "again")
    first = json.loads((bundle / MANIFEST).read_text())
    assert {**again, "catalog": ""} == {**first, "catalog": ""}  # the same files, byte for byte (by SHA-256)


def test_a_new_file_in_the_model_folder_rides_along(bundled: tuple[Path, Path], engine: Engine, settings: Settings,
                                                    tmp_path: Path) -> None:
    """Weights a later model adds (photo understanding, say) are bundled and installed without code changes."""
    model = tmp_path / "model"
    shutil.copytree(settings.model_path, model)
    (model / "heads").mkdir()
    (model / "heads" / "photo_attributes.safetensors").write_bytes(b"new weights")
    catalog, _ = bundled
    manifest = bundle_catalog(catalog, engine.space, replace(settings, model_dir=str(model)), tmp_path / "bundle")
    new = "heads/photo_attributes.safetensors"
    assert manifest["files"][f"model/{new}"] == sha256(model / new)


def test_ingest_takes_vectors_from_the_bundle_and_embeds_only_what_changed(
        bundled: tuple[Path, Path], engine: Engine, settings: Settings, tmp_path: Path) -> None:
    catalog, bundle = bundled
    rows = [json.loads(line) for line in (catalog / "products.jsonl").read_text().splitlines()]
    rows[0]["title"] += " (new season)"  # a changed product: its content no longer matches the bundle
    moved = tmp_path / "moved"  # the same catalog copied elsewhere (photos included)
    shutil.copytree(catalog / "images", moved / "images")
    (moved / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    quick = replace(settings, cache_dir=str(tmp_path / "cache"))  # an empty feature cache: embedding shows in it
    index = ProductIndex(tmp_path / "index")
    report = ingest([moved], engine.space, index, quick, prebuilt=load_prebuilt(bundle))
    assert (report.added, report.prebuilt) == (30, 29)
    assert "29 of those from prebuilt vectors" in report.summary()
    assert cache_rows(quick.cache_path / "features.sqlite") == 2  # the changed product's photo and words only
    fresh = ProductIndex(tmp_path / "fresh")
    ingest([moved], engine.space, fresh, quick)
    ids = [r["id"] for r in rows]
    loaded, computed = index.get(ids, vectors=True), fresh.get(ids, vectors=True)
    for pid in ids:
        assert np.allclose(loaded[pid][1], computed[pid][1], atol=2e-3)  # float16 rounding only
        assert loaded[pid][0] == computed[pid][0]  # the metadata (photo path, hash) of the catalog as it lies here
    again = ingest([moved], engine.space, index, quick, prebuilt=load_prebuilt(bundle))
    assert (again.unchanged, again.added, again.prebuilt) == (30, 0, 0)


def test_vectors_of_another_model_are_not_used(bundled: tuple[Path, Path], engine: Engine, settings: Settings,
                                               tmp_path: Path) -> None:
    catalog, bundle = bundled
    prebuilt = load_prebuilt(bundle)
    other = replace(prebuilt, model={**prebuilt.model, "space.safetensors": "0" * 64})
    report = ingest([catalog], engine.space, ProductIndex(tmp_path / "index"), settings, prebuilt=other)
    assert (report.added, report.prebuilt) == (30, 0)
    # another photo weight in a product's vector (a setting, not a file): the bundle's vectors do not fit either
    again = ingest([catalog], engine.space, ProductIndex(tmp_path / "index2"),
                   replace(settings, product_image_weight=0.3), prebuilt=prebuilt)
    assert again.prebuilt == 0


def test_a_damaged_bundle_file_is_named(bundled: tuple[Path, Path], tmp_path: Path) -> None:
    _, bundle = bundled
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / VECTORS).read_bytes())
    data[-3] ^= 0xFF
    (copy / VECTORS).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"vectors\.safetensors fails its checksum"):
        load_prebuilt(copy)
    (copy / KEYS).unlink()
    with pytest.raises(ModelFileError, match=r"bundle file missing: .*vectors\.json"):
        verify(copy)


def test_first_start_installs_the_bundles_model_and_loads_its_vectors(
        bundled: tuple[Path, Path], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, bundle = bundled
    import assistant.bootstrap as bootstrap

    def no_training(*_: object, **__: object) -> None:
        raise AssertionError("a catalog with its bundle beside it is not trained on")

    monkeypatch.setattr(bootstrap, "train", no_training)
    first = Settings(catalog_dir=str(catalog), data_dir=str(tmp_path / "data"), bundle_dir=str(bundle))
    engine = ensure_ready(first)
    assert sha256(first.model_path / "space.safetensors") == sha256(settings.model_path / "space.safetensors")
    assert engine.index.count() == 30
    assert cache_rows(first.cache_path / "features.sqlite") == 0  # nothing was embedded
    hits = engine.search(text="shirts").hits
    assert hits and all(Path(h.product["image"]).is_file() for h in hits)


# --- the demo catalog shipped in the repository ----------------------------------------------------------

def test_the_demo_catalog_covers_the_full_catalog_and_stays_small() -> None:
    demo = read_catalog(DEMO_CATALOG)
    full = [json.loads(line) for line in (FASHION / "products.jsonl").read_text().splitlines()]
    assert not demo.problems and len(demo.products) >= 1000
    assert {p.article_type for p in demo.products} == {r["article_type"] for r in full}
    assert {p.gender for p in demo.products} == {r["gender"] for r in full}
    assert {(p.gender, p.article_type) for p in demo.products} == {(r["gender"], r["article_type"]) for r in full}
    assert sum(Path(p.image).stat().st_size for p in demo.products) <= 30_000_000
    ids = {p.id for p in demo.products}
    assert set(demo.splits["train"]) | set(demo.splits["dev"]) == ids
    heels = [p for p in demo.products if p.article_type == "Heels" and p.base_colour == "Black"
             and p.effective_price is not None and p.effective_price <= 1500]
    assert len(heels) >= 10  # the app's first example request finds a full page


def test_the_shipped_bundle_matches_the_demo_catalog() -> None:
    """Every demo product has its vectors in the bundle (after changing the demo catalog: `make bundle`)."""
    manifest = verify(DEMO_BUNDLE)
    assert serves(DEMO_BUNDLE, DEMO_CATALOG) and (DEMO_BUNDLE / manifest["catalog"]).resolve() == DEMO_CATALOG
    products = read_catalog(DEMO_CATALOG).products
    keys, unreadable = photo_keys(products)
    assert not unreadable
    prebuilt = load_prebuilt(DEMO_BUNDLE)
    assert all(prebuilt.row(product_hash(p, k, located=False)) is not None for p, k in zip(products, keys, strict=True))
    card = json.loads((DEMO_BUNDLE / "model" / "card.json").read_text())
    assert card["weights_sha256"] == manifest["weights_sha256"] == sha256(DEMO_BUNDLE / "model" / "space.safetensors")
    assert ROOT / "catalog" / "bundle" == DEMO_BUNDLE
