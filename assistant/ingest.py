"""Ingest: catalog rows → validated products → photo/text features → joint vectors → Chroma.

Incremental by content hash: unchanged products are not embedded again, changed ones are updated,
and products gone from the catalog can be pruned. Products found in a prebuilt bundle (same content,
same model: `assistant.bundle`) take their vectors from it instead of the encoders. Work is written in
chunks, so a killed run leaves a usable index and the next run finishes the job."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .bundle import Prebuilt
from .catalog import Catalog, CatalogError, Product, RowProblem, content_hash, product_hash, read_catalog
from .config import Settings
from .encoders import image_encoder, text_encoder
from .features import FeatureCache, encode_photos, encode_texts, photo_keys
from .index import ProductIndex
from .space import JointSpace

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    total: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    prebuilt: int = 0  # of the added and updated: vectors taken from a prebuilt bundle
    seconds: float = 0.0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        prebuilt = f", {self.prebuilt} of those from prebuilt vectors" if self.prebuilt else ""
        return (f"{self.total} products: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.pruned} pruned, {len(self.problems)} rows skipped; {self.seconds:.1f}s "
                f"({self.rate:.0f} products/s){prebuilt}")


def model_id(space: JointSpace, settings: Settings) -> str:
    """Identifies everything that shapes a product's vectors; part of each product's hash."""
    c = space.card
    return content_hash(c.image_encoder, c.text_encoder, c.data_hash, str(c.seed), str(c.dim),
                        str(settings.product_image_weight))


def merge_catalogs(catalogs: list[Catalog]) -> tuple[list[Product], list[RowProblem], dict[str, tuple[str, int]]]:
    """Products of every catalog (the first of a duplicated id wins), the rows skipped, and where each
    kept product comes from (file, line), so later problems (an unusable photo) can name its line."""
    products: dict[str, Product] = {}
    problems: list[RowProblem] = []
    lines: dict[str, tuple[str, int]] = {}
    for cat in catalogs:
        problems += cat.problems
        for p in cat.products:
            name, line = cat.lines.get(p.id, ("", 0))
            source = str(cat.root / name) if name else str(cat.root)
            if p.id in products:
                problems.append(RowProblem(source, line, p.id, "duplicate id across catalogs (kept the first)"))
            else:
                products[p.id] = p
                lines[p.id] = (source, line)
    return list(products.values()), problems, lines


def embed_products(products: list[Product], keys: list[str], space: JointSpace, settings: Settings,
                   cache: FeatureCache) -> tuple[list[int], np.ndarray, np.ndarray, dict[int, str]]:
    """Photo features and joint vectors of products (photo content keys given): the indices that could be
    embedded, their joint vectors and photo features (rows in that order), and why the others could not."""
    img_enc = image_encoder(space.card.image_encoder, settings.threads)
    txt_enc = text_encoder(space.card.text_encoder, settings.threads)
    photos, broken = encode_photos(products, keys, img_enc, cache, desc="photos")
    ok = [j for j in range(len(products)) if j not in broken and np.all(np.isfinite(photos[j]))]
    if not ok:
        return [], np.zeros((0, space.card.dim), np.float32), photos[:0], broken
    texts = encode_texts([products[j].text() for j in ok], txt_enc, cache, desc="texts")
    return ok, space.product_vectors(photos[ok], texts, settings.product_image_weight), photos[ok], broken


def ingest(catalog_dirs: list[str | Path], space: JointSpace, index: ProductIndex, settings: Settings,
           prune: bool = False, chunk: int = 256, prebuilt: Prebuilt | None = None) -> IngestReport:
    start = time.time()
    products, problems, lines = merge_catalogs([read_catalog(d) for d in catalog_dirs])
    report = IngestReport(total=len(products), problems=problems)
    keys, unreadable = photo_keys(products)
    mid = model_id(space, settings)
    hashes = [product_hash(p, k) + mid[:8] if k else "" for p, k in zip(products, keys, strict=True)]
    existing = index.hashes()
    todo = [i for i, h in enumerate(hashes) if h and existing.get(products[i].id) != h and i not in unreadable]
    report.unchanged = sum(1 for i, h in enumerate(hashes) if h and existing.get(products[i].id) == h)

    def store(idx: list[int], joint: np.ndarray, photos: np.ndarray) -> None:
        metas = [{**products[i].metadata(), "hash": hashes[i]} for i in idx]
        index.upsert([products[i].id for i in idx], joint, photos, metas)
        report.updated += sum(products[i].id in existing for i in idx)
        report.added += sum(products[i].id not in existing for i in idx)

    if prebuilt is not None and prebuilt.fits(mid, settings.model_path):
        rows = {i: prebuilt.row(product_hash(products[i], keys[i], located=False)) for i in todo}
        ready = [i for i in todo if rows[i] is not None]
        for s in range(0, len(ready), chunk):
            idx = ready[s:s + chunk]
            at = [rows[i] for i in idx]
            store(idx, prebuilt.joint[at].astype(np.float32), prebuilt.photos[at].astype(np.float32))
        report.prebuilt = len(ready)
        todo = [i for i in todo if rows[i] is None]
        log.info("%d products from the prebuilt vectors in %s; %d to embed", len(ready), prebuilt.source, len(todo))
    bad: dict[int, str] = dict(unreadable)
    with (FeatureCache(settings.cache_path / "features.sqlite") as cache,
          tqdm(total=len(todo), desc="Indexing products", unit="product", disable=None) as bar):
        for s in range(0, len(todo), chunk):
            idx = todo[s:s + chunk]
            ok, joint, photos, broken = embed_products([products[i] for i in idx], [keys[i] for i in idx], space,
                                                       settings, cache)
            bad.update({idx[j]: why for j, why in broken.items()})
            if ok:
                store([idx[j] for j in ok], joint, photos)
            bar.update(len(idx))
    for i, why in sorted(bad.items()):
        report.problems.append(RowProblem(*lines.get(products[i].id, ("catalog", 0)), products[i].id, why))
    if prune:
        keep = {p.id for i, p in enumerate(products) if i not in bad}
        # with the photo rows of products whose joint row never landed (a run killed mid-write)
        gone = sorted((set(existing) | index.ids(photos=True)) - keep)
        index.delete(gone)
        report.pruned = sum(pid in existing for pid in gone)
    report.seconds = time.time() - start
    for p in report.problems:
        log.warning("skipped %s", p)
    return report


def bundle_catalog(catalog_dir: str | Path, space: JointSpace, settings: Settings, out: str | Path) -> dict:
    """Write a prebuilt bundle (`assistant.bundle`) of a catalog: the model folder it was embedded with and
    every product's vectors, keyed by content so a copy of the catalog anywhere finds them."""
    from .bundle import write_bundle

    catalog = read_catalog(catalog_dir)
    if catalog.problems:
        raise CatalogError(f"{catalog_dir}: {len(catalog.problems)} rows cannot be used (first: {catalog.problems[0]})")
    keys, unreadable = photo_keys(catalog.products)
    if unreadable:
        raise CatalogError(f"{catalog_dir}: photos cannot be read: {sorted(unreadable.values())[:3]}")
    with FeatureCache(settings.cache_path / "features.sqlite") as cache:
        ok, joint, photos, broken = embed_products(catalog.products, keys, space, settings, cache)
    if broken:
        raise CatalogError(f"{catalog_dir}: photos cannot be used: {sorted(broken.values())[:3]}")
    names = [product_hash(catalog.products[j], keys[j], located=False) for j in ok]
    return write_bundle(out, catalog_dir, settings.model_path, names, joint, photos, model_id(space, settings),
                        space.card.weights_sha256)
