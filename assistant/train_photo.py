"""Training the photo heads (`assistant.photo`): what a shopper's photo shows — type, colour, gender, usage —
learned from the catalog's own photos, shopper-style views of them (`assistant.augment`) and real phone
photos of clothes (their type only), `train` ids and the real photos' `train` split only; and the
similarity above which a catalog photo is called the very product, calibrated on those views (claims must be
right) and on the real photos (no catalog product is in them: claims must be rare). Seeded."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from .augment import shopper_view
from .catalog import Catalog, Product, content_hash, decode_image, image_bytes
from .config import Settings
from .encoders import image_encoder
from .encoders.base import ImageEncoder, normalise
from .features import FeatureCache, encode_photos, photo_keys
from .photo import FACETS, INPUT_VERSION, PhotoCard, PhotoHeads, item_colours, photo_input, photo_inputs

log = logging.getLogger(__name__)


@dataclass
class Examples:
    """Head inputs with, per facet, the values each example may rightly be given (none: not known)."""

    x: np.ndarray
    allowed: dict[str, list[tuple[str, ...]]]
    source: np.ndarray  # "catalog", "view" or "real" per row
    product: list[str]  # the product shown ("" for real photos)


def _facet_values(p: Product) -> dict[str, tuple[str, ...]]:
    return {f: (getattr(p, f),) if getattr(p, f) and getattr(p, f) != "NA" else () for f in FACETS}


def _encode_inputs(images: list[tuple[str, Image.Image]], encoder: ImageEncoder, cache: FeatureCache,
                   desc: str) -> np.ndarray:
    """Head inputs of (content key, picture) pairs, each computed once (cached under the key)."""
    name = f"{encoder.name}/photo-input-v{INPUT_VERSION}"
    keys = [k for k, _ in images]

    def fn(idx: list[int]) -> np.ndarray:
        return photo_inputs([images[i][1] for i in idx], encoder)

    with tqdm(total=len(keys), desc=f"Encoding {desc}", unit="img", disable=None) as bar:
        return cache.compute(name, keys, fn, batch=16, progress=bar.update)


def catalog_examples(products: list[Product], settings: Settings, encoder: ImageEncoder,
                     cache: FeatureCache, rng: np.random.Generator, surfaces: list[Image.Image]) -> Examples:
    """One shopper-style view each of `settings.photo_views` catalog photos, and the catalog's photos as they are."""
    keys, problems = photo_keys(products)
    usable = [i for i in range(len(products)) if i not in problems]
    picked = [usable[j] for j in rng.permutation(len(usable))[: settings.photo_views]]
    views = []
    for i in picked:
        view = shopper_view(decode_image(image_bytes(products[i].image)), rng, surfaces)
        views.append((content_hash(keys[i], np.asarray(view).tobytes()), view))
    x_views = _encode_inputs(views, encoder, cache, "shopper-style views")
    feats, broken = encode_photos(products, keys, encoder, cache, desc="catalog photos")
    studio = [i for i in usable if i not in broken and np.all(np.isfinite(feats[i]))]
    # a studio photo is its own item on white: its features as they are, and its item's colours
    x_studio = np.stack([photo_input(feats[i], item_colours(decode_image(image_bytes(products[i].image))), True)
                         for i in studio])
    allowed: dict[str, list[tuple[str, ...]]] = {f: [] for f in FACETS}
    for i in picked + studio:
        for f, v in _facet_values(products[i]).items():
            allowed[f].append(v)
    return Examples(np.concatenate([x_views, x_studio]), allowed,
                    np.array(["view"] * len(picked) + ["catalog"] * len(studio)),
                    [products[i].id for i in picked + studio])


def real_photos(folder: str | Path, split: str = "train") -> list[tuple[str, tuple[str, ...]]]:
    """(image path, allowed article types) of a real-photos folder's `split` (see its README)."""
    folder = Path(folder)
    if not (folder / "labels.jsonl").is_file():
        return []
    keep = set(json.loads((folder / "splits.json").read_text())[split])
    rows = [json.loads(line) for line in (folder / "labels.jsonl").read_text().splitlines() if line.strip()]
    return [(str(folder / r["image"]), tuple(r["article_types"])) for r in rows if r["id"] in keep]


def real_examples(photos: list[tuple[str, tuple[str, ...]]], encoder: ImageEncoder, cache: FeatureCache) -> Examples:
    images = []
    for path, _ in photos:
        data = Path(path).read_bytes()
        images.append((content_hash(data), decode_image(data)))
    x = _encode_inputs(images, encoder, cache, "real photos")
    allowed = {f: [types if f == "article_type" else () for _, types in photos] for f in FACETS}
    return Examples(x, allowed, np.array(["real"] * len(photos)), [""] * len(photos))


def _set_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log of the probability given to the allowed values (a 0/1 matrix; rows with none are skipped)."""
    known = targets.sum(1) > 0
    if not known.any():
        return logits.sum() * 0
    logp = logits[known].log_softmax(1)
    return -(torch.logsumexp(logp + torch.log(targets[known].clamp_min(1e-30)), dim=1)).mean()


def fit_heads(data: Examples, card: PhotoCard, settings: Settings) -> PhotoHeads:
    """Facet classifiers (set-valued targets) and the query correction (InfoNCE: a photo of a product towards
    that product's catalog photo, against every other catalog photo), trained together."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = PhotoHeads(card)
    x = torch.from_numpy(data.x)
    targets = {}
    for f in FACETS:
        index = {v: n for n, v in enumerate(card.vocab[f])}
        t = np.zeros((len(data.x), len(card.vocab[f])), np.float32)
        for r, values in enumerate(data.allowed[f]):
            for v in values:
                if v in index:
                    t[r, index[v]] = 1.0
        targets[f] = torch.from_numpy(t)
    studio = np.flatnonzero(data.source == "catalog")
    gallery = torch.from_numpy(normalise(data.x[studio, : card.image_dim]))
    where = {data.product[i]: n for n, i in enumerate(studio)}
    shown = torch.tensor([where.get(p, -1) for p in data.product])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    model.train()
    for _ in range(settings.photo_epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), 256):
            b = order[s:s + 256]
            out = model(x[b])
            loss = sum(_set_loss(out[f], targets[f][b]) for f in FACETS)
            known = b[shown[b] >= 0]
            if len(known):
                logits = model.forward_query(x[known]) @ gallery.T / settings.train_temperature
                loss = loss + nn.functional.cross_entropy(logits, shown[known])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def claim_threshold(query: np.ndarray, is_right: np.ndarray, stranger: np.ndarray, precision: float,
                    stranger_rate: float) -> float:
    """The lowest similarity at which claims on shopper-style views are right at least `precision` of the time
    and at most `stranger_rate` of photos of things not in the catalog are claimed."""
    floor = float(np.quantile(stranger, 1 - stranger_rate)) if len(stranger) else 0.0
    order = np.argsort(-query)
    right = np.cumsum(is_right[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(right >= precision)
    at = float(query[order][ok[-1]]) if len(ok) else 1.0
    return max(floor, at)


def train_photo_heads(catalog: Catalog, settings: Settings, folder: str | Path,
                      cache: FeatureCache | None = None) -> PhotoHeads:
    start = time.time()
    cache = cache or FeatureCache(settings.cache_path / "features.sqlite")
    rng = np.random.default_rng(settings.seed)
    encoder = image_encoder(settings.image_encoder, settings.threads)
    ids = catalog.train_ids()
    products = [p for p in catalog.products if p.id in ids]
    real = real_photos(settings.real_photos_dir) if settings.real_photos_dir else []
    surfaces = [decode_image(Path(p).read_bytes()) for p, _ in real[: settings.photo_view_surfaces]]
    parts = ([real_examples(real, encoder, cache)] if real else []) + [
        catalog_examples(products, settings, encoder, cache, rng, surfaces)]
    data = Examples(np.concatenate([p.x for p in parts]),
                    {f: [v for p in parts for v in p.allowed[f]] for f in FACETS},
                    np.concatenate([p.source for p in parts]), [i for p in parts for i in p.product])
    counts = {f: {} for f in FACETS}
    for f in FACETS:
        for values in data.allowed[f]:
            for v in values:
                counts[f][v] = counts[f].get(v, 0) + 1
    vocab = {f: sorted(v for v, n in counts[f].items() if n >= settings.photo_min_examples) for f in FACETS}
    card = PhotoCard(image_encoder=encoder.name, image_dim=encoder.dim, vocab=vocab, seed=settings.seed)
    heads = fit_heads(data, card, settings)
    # the very product: how close is the nearest catalog photo, for views of known products and for strangers
    gallery_ids = [i for i, s in zip(data.product, data.source, strict=True) if s == "catalog"]
    gallery = normalise(data.x[data.source == "catalog", : card.image_dim])
    views = data.source == "view"
    sims = heads.query(data.x[views]) @ gallery.T
    best = sims.argmax(1)
    shown = [i for i, s in zip(data.product, data.source, strict=True) if s == "view"]
    right = np.array([gallery_ids[b] == p for b, p in zip(best, shown, strict=True)], np.float32)
    strangers = (heads.query(data.x[data.source == "real"]) @ gallery.T).max(1) if real else np.zeros(0)
    card.claim_similarity = claim_threshold(sims.max(1), right, strangers, settings.photo_claim_precision,
                                            settings.photo_claim_stranger_rate)
    card.metrics = {"examples": len(data.x), "views": int(views.sum()), "real_photos": len(real),
                    "view_top1_right": round(float(right.mean()), 4) if len(right) else 0.0,
                    "train_seconds": round(time.time() - start, 1)}
    heads.save(folder)
    log.info("photo heads trained: %s, claim similarity %.3f", card.metrics, card.claim_similarity)
    return heads
