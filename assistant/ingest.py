"""Ingest: catalog rows → validated products → photo/text features → joint vectors → Chroma.

Incremental by content hash: unchanged products are not embedded again, changed ones are updated,
and products gone from the catalog can be pruned. Work is written in chunks, so a killed run leaves
a usable index and the next run finishes the job."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .catalog import Catalog, Product, RowProblem, content_hash, product_hash, read_catalog
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
    seconds: float = 0.0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.total} products: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.pruned} pruned, {len(self.problems)} rows skipped; {self.seconds:.1f}s "
                f"({self.rate:.0f} products/s)")


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


def ingest(catalog_dirs: list[str | Path], space: JointSpace, index: ProductIndex, settings: Settings,
           prune: bool = False, chunk: int = 256) -> IngestReport:
    start = time.time()
    products, problems, lines = merge_catalogs([read_catalog(d) for d in catalog_dirs])
    report = IngestReport(total=len(products), problems=problems)
    keys, unreadable = photo_keys(products)
    mid = model_id(space, settings)
    hashes = [product_hash(p, k) + mid[:8] if k else "" for p, k in zip(products, keys, strict=True)]
    existing = index.hashes()
    todo = [i for i, h in enumerate(hashes) if h and existing.get(products[i].id) != h and i not in unreadable]
    report.unchanged = sum(1 for i, h in enumerate(hashes) if h and existing.get(products[i].id) == h)
    img_enc = image_encoder(space.card.image_encoder, settings.threads)
    txt_enc = text_encoder(space.card.text_encoder, settings.threads)
    cache = FeatureCache(settings.cache_path / "features.sqlite")
    bad: dict[int, str] = dict(unreadable)
    with tqdm(total=len(todo), desc="Indexing products", unit="product", disable=None) as bar:
        for s in range(0, len(todo), chunk):
            idx = todo[s:s + chunk]
            sub = [products[i] for i in idx]
            photos, broken = encode_photos(sub, [keys[i] for i in idx], img_enc, cache, desc="photos")
            bad.update({idx[j]: why for j, why in broken.items()})
            ok = [j for j in range(len(idx)) if j not in broken and np.all(np.isfinite(photos[j]))]
            if ok:
                texts = encode_texts([sub[j].text() for j in ok], txt_enc, cache, desc="texts")
                joint = space.product_vectors(photos[ok], texts, settings.product_image_weight)
                metas = [{**sub[j].metadata(), "hash": hashes[idx[j]]} for j in ok]
                index.upsert([sub[j].id for j in ok], joint, photos[ok], metas)
                for j in ok:
                    if sub[j].id in existing:
                        report.updated += 1
                    else:
                        report.added += 1
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
