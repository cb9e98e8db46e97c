"""`make eval-product-fusion`: how each product's photo and words should combine in the index, measured
through the real engine on the dev sets.

- `sum w`: one vector per product, normalise(w · photo + (1 − w) · words) in the learned space (what the
  Chroma index stores; `product_image_weight` is w);
- `late b`: separate photo and word vectors, scored at query time as b · cos(q, photo) + (1 − b) · cos(q, words).

Both run the same `Engine.search` over an in-memory index holding the catalog's real vectors (cached
features through the trained space), so only the product-side fusion differs; photo-only search uses the
raw photo features and is the same for every scheme."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.catalog import read_catalog
from assistant.config import Settings
from assistant.encoders import image_encoder, text_encoder
from assistant.encoders.base import normalise
from assistant.engine import Engine
from assistant.evaluate import load_queries, run_queries, score, table
from assistant.features import FeatureCache, encode_photos, encode_texts, photo_keys
from assistant.index import ProductIndex
from assistant.space import JointSpace

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
KINDS = ("text", "zh", "natural", "composed", "filter")


class MemoryIndex(ProductIndex):
    """ProductIndex's search logic (filters, fast path, facets) over in-memory matrices: product
    score = b · photo + (1 − b) · words, each a cosine in the learned space."""

    def __init__(self, ids: list[str], metas: list[dict], photo_vecs: np.ndarray, word_vecs: np.ndarray,
                 raw_photos: np.ndarray, b: float) -> None:
        self._ids, self._metas, self._b = ids, {i: m for i, m in zip(ids, metas, strict=True)}, b
        self._photo, self._words, self._raw = photo_vecs, word_vecs, normalise(raw_photos)
        self._row = {i: n for n, i in enumerate(ids)}
        self._meta, self._columns, self._last = self._metas, None, (None, [])
        self.path, self.host = "memory", ""

    def metadata(self) -> dict[str, dict]:
        return self._metas

    def refresh(self) -> None:
        self._changed()

    def _nearest(self, vector: np.ndarray, n: int, where: dict | None, photos: bool,
                 ids: list[str] | None = None) -> list[tuple[str, float]]:
        q = normalise(np.asarray(vector, np.float32)[None])[0]
        scores = self._raw @ q if photos else self._b * (self._photo @ q) + (1 - self._b) * (self._words @ q)
        rows = np.array([self._row[i] for i in ids]) if ids is not None else np.arange(len(self._ids))
        top = rows[np.argsort(-scores[rows], kind="stable")[:n]]
        return [(self._ids[r], float(scores[r])) for r in top]

    def get(self, ids: Sequence[str], vectors: bool = False, photos: bool = False) -> dict:
        out = {}
        for i in ids:
            if i in self._row:
                r = self._row[i]
                vec = self._raw[r] if photos else normalise((self._b * self._photo[r] + (1 - self._b) * self._words[r])[None])[0]
                out[i] = (self._metas[i], vec if vectors else None)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", default=str(SHARED / "eval" / "fashion-dev"))
    ap.add_argument("--weights", default="0.3,0.5,0.7", help="w and b values to try")
    args = ap.parse_args()
    settings = Settings.from_env()
    space = JointSpace.load(settings.model_path)
    catalog = read_catalog(settings.catalog_dir)
    keys, unreadable = photo_keys(catalog.products)
    products = [p for n, p in enumerate(catalog.products) if n not in unreadable]
    keys = [k for n, k in enumerate(keys) if n not in unreadable]
    cache = FeatureCache(settings.cache_path / "features.sqlite")
    raw, broken = encode_photos(products, keys, image_encoder(space.card.image_encoder, settings.threads), cache)
    keep = [n for n in range(len(products)) if n not in broken]
    products, raw = [products[n] for n in keep], raw[keep]
    words = encode_texts([p.text() for p in products], text_encoder(space.card.text_encoder, settings.threads), cache)
    photo_vecs, word_vecs = normalise(space.project_image(raw)), normalise(space.project_text(words))
    ids, metas = [p.id for p in products], [p.metadata() for p in products]
    queries = [q for q in load_queries([args.queries]) if q.get("kind") in KINDS]
    products = {p.id: p for p in catalog.products}
    summaries = {}
    for w in (float(x) for x in args.weights.split(",")):
        # `sum w`: the stored vector is the normalised weighted sum; `late b`: two scores combined
        summed = normalise(w * photo_vecs + (1 - w) * word_vecs)
        schemes = {f"sum {w:g}": MemoryIndex(ids, metas, summed, summed, raw, 1.0),
                   f"late {w:g}": MemoryIndex(ids, metas, photo_vecs, word_vecs, raw, w)}
        for name, index in schemes.items():
            engine = Engine(settings, space=space, index=index)
            lines = run_queries(engine, queries)
            summaries[name] = score(queries, {line["qid"]: line for line in lines}, products)
            print(table(summaries[name], f"\n{name}"), flush=True)
    print("\nproduct-side fusion  " + "  ".join(f"{k + ' ' + m:>16}" for k in KINDS for m in ("p@10",) )
          + f"  {'natural ndcg@10':>16}")
    for name, s in summaries.items():
        print(f"{name:20} " + "  ".join(f"{s.get(k, {}).get('p@10', float('nan')):>16.3f}" for k in KINDS)
              + f"  {s.get('natural', {}).get('ndcg@10', float('nan')):>16.3f}")


if __name__ == "__main__":
    main()
