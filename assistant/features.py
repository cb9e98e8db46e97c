"""Content-addressed feature cache (SQLite): an image or text is never encoded twice by the same model."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .catalog import CatalogError, Product, content_hash, decode_image, image_bytes
from .encoders.base import ImageEncoder, TextEncoder


class FeatureCache:
    """Maps (encoder name, content hash) to a float32 vector. Each write commits, so a run killed
    half-way keeps what it computed and the next run picks up from there."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS features (encoder TEXT, key TEXT, vec BLOB, "
                        "PRIMARY KEY (encoder, key))")

    def get_many(self, encoder: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i:i + 500])
            q = f"SELECT key, vec FROM features WHERE encoder=? AND key IN ({','.join('?' * len(chunk))})"
            for key, blob in self.db.execute(q, [encoder, *chunk]):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, encoder: str, items: dict[str, np.ndarray]) -> None:
        """Store vectors; rows that are not finite (an input that could not be encoded) are not kept."""
        rows = [(encoder, k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()
                if np.all(np.isfinite(v))]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?)", rows)

    def compute(self, encoder: str, keys: Sequence[str], fn: Callable[[list[int]], np.ndarray],
                batch: int = 8, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `keys`; the missing ones are computed by `fn(indices)` in batches and stored.
        Returns rows in the order of `keys`; `fn` marks an input it cannot encode with a NaN row,
        which is returned (not cached) so the caller can report it."""
        have = self.get_many(encoder, keys)
        todo = [i for i, k in enumerate(keys) if k not in have]
        if progress:
            progress(len(keys) - len(todo))
        for s in range(0, len(todo), batch):
            idx = todo[s:s + batch]
            vecs = fn(idx)
            new = {keys[i]: v for i, v in zip(idx, vecs, strict=True)}
            self.put_many(encoder, new)
            have.update(new)
            if progress:
                progress(len(idx))
        return np.stack([have[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def close(self) -> None:
        """Close the connection: SQLite folds its write-ahead log into the file now, not whenever the
        object happens to be collected."""
        self.db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def photo_keys(products: Sequence[Product]) -> tuple[list[str], dict[int, str]]:
    """Content hash of each product's photo bytes; unreadable photos are returned as problems."""
    keys: list[str] = []
    problems: dict[int, str] = {}
    for i, p in enumerate(products):
        try:
            keys.append(content_hash(image_bytes(p.image)))
        except OSError as e:
            keys.append("")
            problems[i] = f"image cannot be read: {e}"
    return keys, problems


def encode_photos(products: Sequence[Product], keys: Sequence[str], encoder: ImageEncoder,
                  cache: FeatureCache, batch: int = 4, desc: str = "photos") -> tuple[np.ndarray, dict[int, str]]:
    """Image features for each product (NaN rows where the photo is broken, with the reason)."""
    problems: dict[int, str] = {}

    def fn(idx: list[int]) -> np.ndarray:
        images, ok = [], []
        for i in idx:
            try:
                images.append(decode_image(image_bytes(products[i].image)))
                ok.append(i)
            except (CatalogError, OSError) as e:
                problems[i] = f"image unusable: {e}"
        out = np.full((len(idx), encoder.dim), np.nan, np.float32)
        if images:
            out[[idx.index(i) for i in ok]] = encoder.encode_image(images)
        return out

    valid = [i for i, k in enumerate(keys) if k]
    with tqdm(total=len(valid), desc=f"Encoding {desc}", unit="img", disable=None) as bar:
        vecs = cache.compute(encoder.name, [keys[i] for i in valid],
                             lambda sub: fn([valid[j] for j in sub]), batch=batch, progress=bar.update)
    full = np.full((len(products), encoder.dim), np.nan, np.float32)
    if valid:
        full[valid] = vecs
    return full, problems


def encode_texts(texts: Sequence[str], encoder: TextEncoder, cache: FeatureCache,
                 desc: str = "texts") -> np.ndarray:
    keys = [content_hash(t) for t in texts]
    with tqdm(total=len(texts), desc=f"Encoding {desc}", unit="text", disable=None) as bar:
        return cache.compute(encoder.name, keys, lambda idx: encoder.encode_text([texts[i] for i in idx]),
                             batch=256, progress=bar.update)
