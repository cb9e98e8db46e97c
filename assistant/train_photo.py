"""Training the photo heads (`assistant.photo`): what a shopper's photo shows — type, colour, gender, usage —
learned from the catalog's own photos, shopper-style views of them (`assistant.augment`) and real phone
photos of clothes (their type only), `train` ids and the real photos' `train` split only; and the
similarity above which a catalog photo is called the very product, calibrated on those views (claims must be
right) and on the real photos (no catalog product is in them: claims must be rare); and the query tail (the
image encoder's last block tuned so shoppers' photos meet their product's catalog photo). Seeded."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .augment import shopper_view
from .catalog import Catalog, Product, content_hash, decode_image, image_bytes
from .config import Settings
from .encoders import image_encoder
from .encoders.base import ImageEncoder, TunableImageEncoder, normalise
from .features import FeatureCache, encode_photos, photo_keys
from .photo import (
    FACETS,
    INPUT_VERSION,
    QUERY_CARD,
    QUERY_WEIGHTS,
    PhotoCard,
    PhotoHeads,
    QueryCard,
    QueryTail,
    find_item,
    item_colours,
    photo_input,
    photo_inputs,
)

log = logging.getLogger(__name__)
QUERY_SEED_STREAM = 1  # the query tail's random stream beside the heads' (numpy SeedSequence([seed, this]))


@dataclass
class Examples:
    """Head inputs with, per facet, the values each example may rightly be given (none: not known)."""

    x: np.ndarray
    allowed: dict[str, list[tuple[str, ...]]]
    source: np.ndarray  # "catalog", "view" or "real" per row
    product: list[str]  # the product shown ("" for real photos)

    def subset(self, keep: np.ndarray) -> Examples:
        rows = np.flatnonzero(keep)
        return Examples(self.x[rows], {f: [v[i] for i in rows] for f, v in self.allowed.items()}, self.source[rows],
                        [self.product[i] for i in rows])


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
    # a studio photo is its own item on white: its features as they are, and its item's colours (cached)
    colours = cache.compute(f"photo-colours-v{INPUT_VERSION}", [keys[i] for i in studio], lambda idx: np.stack(
        [item_colours(decode_image(image_bytes(products[studio[j]].image))) for j in idx]), batch=64)
    x_studio = np.stack([photo_input(feats[i], feats[i], c, True) for i, c in zip(studio, colours, strict=True)])
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
    """Facet classifiers, one per facet, over a shared layer; targets are sets of allowed values."""
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
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    model.train()
    for _ in range(settings.photo_epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), 256):
            b = order[s:s + 256]
            out = model(x[b])
            loss = sum(_set_loss(out[f], targets[f][b]) for f in FACETS)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@dataclass
class Claims:
    """For calibrating "the same product": the nearest catalog photo's similarity for held-out views and whether
    it is their product's, and for strangers (real photos of things not in the catalog)."""

    best: np.ndarray
    right: np.ndarray
    strangers: np.ndarray


def _items(images: list[Image.Image]) -> list[Image.Image]:
    """Each photo's item cut out on white, as the query sees it (the photo when no item is found)."""
    items = [find_item(image) for image in images]
    return [image if item is None else item.view for image, item in zip(images, items, strict=True)]


def _trunk(encoder: TunableImageEncoder, images: list[Image.Image], blocks: int, batch: int = 16) -> torch.Tensor:
    out = [encoder.trunk(_items(images[s:s + batch]), blocks).numpy().astype(np.float16)
           for s in range(0, len(images), batch)]
    return torch.from_numpy(np.concatenate(out))


def _nearest(tail: QueryTail, x: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    return torch.cat([tail(x[s:s + 256].float()) @ gallery.T for s in range(0, len(x), 256)])


def train_query_tail(products: list[Product], settings: Settings, encoder: ImageEncoder, cache: FeatureCache,
                     surfaces: list[Image.Image], strangers: list[str]) -> tuple[QueryTail, Claims] | None:
    """Tune a copy of the encoder's last layers so the item cut out of a shopper-style view of a catalog `train`
    photo finds that photo among all of them (InfoNCE against the shipped encoder's features of the catalog
    photos, which stay as they are); a tenth of the products is held out to measure it and calibrate claims.
    Seeded on its own, so the heads' settings do not change it."""
    if not isinstance(encoder, TunableImageEncoder) or settings.photo_query_views <= 0:
        return None
    start = time.time()
    rng = np.random.default_rng([settings.seed, QUERY_SEED_STREAM])
    torch.manual_seed(settings.seed)
    keys, problems = photo_keys(products)
    feats, broken = encode_photos(products, keys, encoder, cache, desc="catalog photos")
    usable = [i for i in range(len(products)) if i not in problems and i not in broken and np.all(np.isfinite(feats[i]))]
    gallery = torch.from_numpy(normalise(feats[usable]))
    picks = [n for _ in range(settings.photo_query_views) for n in range(len(usable))]
    chunks = []
    with tqdm(total=len(picks), desc="Views for the query tail", unit="img", disable=None) as bar:
        for s in range(0, len(picks), 64):
            views = [shopper_view(decode_image(image_bytes(products[usable[n]].image)), rng, surfaces)
                     for n in picks[s:s + 64]]
            chunks.append(_trunk(encoder, views, settings.photo_query_blocks))
            bar.update(len(views))
    x, y = torch.cat(chunks), torch.tensor(picks)
    held_out = set(rng.permutation(len(usable))[: max(1, len(usable) // 10)].tolist())
    held = torch.tensor([n in held_out for n in picks])
    card = QueryCard(image_encoder=encoder.name, views=len(picks), blocks=settings.photo_query_blocks, seed=settings.seed,
                     temperature=settings.photo_query_temperature)
    tail = QueryTail(card, encoder)
    with torch.no_grad():
        card.metrics["held_out_top1_before"] = round(float((_nearest(tail, x[held], gallery).argmax(1) == y[held])
                                                           .float().mean()), 4)
    opt = torch.optim.AdamW(tail.parameters(), lr=settings.photo_query_lr, weight_decay=1e-4)
    fit = torch.nonzero(~held).squeeze(1)
    for _ in range(settings.photo_query_epochs):
        tail.train()
        for m in tail.modules():  # batch statistics stay as shipped
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        order = fit[torch.from_numpy(rng.permutation(len(fit)))]
        for s in range(0, len(order), 64):
            b = order[s:s + 64]
            loss = torch.nn.functional.cross_entropy(tail(x[b].float()) @ gallery.T / card.temperature, y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    tail.eval().settle()  # measured and calibrated as it ships
    with torch.no_grad():
        sims = _nearest(tail, x[held], gallery)
        best = sims.max(1).values
        right = torch.isclose(best, sims[torch.arange(len(best)), y[held]], atol=1e-6)  # a twin photo counts
        others = torch.stack([s.max() for s in _nearest(tail, _trunk(encoder, [decode_image(Path(p).read_bytes())
                                                                              for p in strangers], card.blocks), gallery)]) \
            if strangers else torch.zeros(0)
    card.metrics |= {"held_out_top1": round(float(right.float().mean()), 4), "train_seconds": round(time.time() - start, 1)}
    log.info("query tail tuned: %s", card.metrics)
    return tail, Claims(best.numpy(), right.float().numpy(), others.numpy())


def tune_query_tail(products: list[Product], settings: Settings, encoder: ImageEncoder, cache: FeatureCache,
                    surfaces: list[Image.Image], strangers: list[str], folder: str | Path) -> QueryTail | None:
    """Train the query tail, calibrate its "same product" claims on its own held-out views as the heads' are, and
    save it in the model folder (or remove a stale one when the encoder has none or `photo_query_views` is 0)."""
    tuned = train_query_tail(products, settings, encoder, cache, surfaces, strangers)
    if tuned is None:
        for name in (QUERY_WEIGHTS, QUERY_CARD):
            (Path(folder) / name).unlink(missing_ok=True)
        return None
    tail, claims = tuned
    tail.card.claim_similarity = claim_threshold(claims.best, claims.right, claims.strangers,
                                                 settings.photo_claim_precision, settings.photo_claim_stranger_rate)
    tail.save(folder)
    return tail


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
    if cache is None:
        with FeatureCache(settings.cache_path / "features.sqlite") as own:
            return train_photo_heads(catalog, settings, folder, own)
    start = time.time()
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
    card = PhotoCard(image_encoder=encoder.name, image_dim=encoder.dim, vocab=vocab, seed=settings.seed,
                     input_version=INPUT_VERSION)
    # a fifth of the shopper-style views is held out of fitting (their heads' accuracy is reported)
    view_rows = np.flatnonzero(data.source == "view")
    held = np.zeros(len(data.x), bool)
    held[rng.permutation(view_rows)[: len(view_rows) // 5]] = True
    heads = fit_heads(data.subset(~held), card, settings)
    studio = data.source == "catalog"
    where = {p: n for n, p in enumerate(np.array(data.product)[studio])}
    views = held & np.array([p in where for p in data.product])
    # the very product, for queries with the encoder's features as shipped: how close is the nearest catalog
    # photo for held-out views of known products, and for strangers (real photos: no catalog product is in them)
    gallery = normalise(data.x[studio, : card.image_dim])
    sims = normalise(data.x[views, : card.image_dim]) @ gallery.T
    own = np.array([where[p] for p in np.array(data.product)[views]], int)
    best = sims.max(1)
    claims = Claims(best, np.isclose(best, sims[np.arange(len(own)), own], atol=1e-6).astype(np.float32),
                    (normalise(data.x[data.source == "real", : card.image_dim]) @ gallery.T).max(1)
                    if real else np.zeros(0))
    card.claim_similarity = claim_threshold(claims.best, claims.right, claims.strangers,
                                            settings.photo_claim_precision, settings.photo_claim_stranger_rate)
    tune_query_tail(products, settings, encoder, cache, surfaces, [p for p, _ in real[: settings.photo_query_strangers]],
                    folder)
    said = heads.probabilities(data.x[views])
    for f in FACETS:  # the heads on held-out views: the share given their own product's value
        truth = [data.allowed[f][i] for i in np.flatnonzero(views)]
        guess = [card.vocab[f][j] for j in said[f].argmax(1)]
        known = [(g, t) for g, t in zip(guess, truth, strict=True) if t]
        card.metrics[f"held_out_view_{f}_right"] = round(float(np.mean([g in t for g, t in known])), 4) if known else 0.0
    card.metrics |= {"examples": len(data.x), "views": int((data.source == "view").sum()), "real_photos": len(real),
                    "held_out_view_top1_right": round(float(claims.right.mean()), 4) if len(claims.right) else 0.0,
                    "held_out_views_claimed": round(float((claims.best >= card.claim_similarity).mean()), 4)
                    if len(claims.best) else 0.0,
                    "train_seconds": round(time.time() - start, 1)}
    heads.save(folder)
    log.info("photo heads trained: %s, claim similarity %.3f", card.metrics, card.claim_similarity)
    return heads
