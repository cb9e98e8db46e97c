"""Training the joint space: contrastive (InfoNCE, CLIP-style) over (photo, text) pairs of the catalog."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .catalog import Catalog, Product, content_hash
from .config import Settings
from .encoders import image_encoder, text_encoder
from .features import FeatureCache, encode_photos, encode_texts, photo_keys
from .space import JointSpace, SpaceCard
from .train_photo import train_photo_heads

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    products: list[Product]
    image: np.ndarray  # frozen image features
    full: np.ndarray  # frozen text features of the full product text
    short: np.ndarray  # frozen text features of the short shopper-style view
    groups: np.ndarray  # products sharing a short view are positives of one another
    photo_keys: list[str]


def load_training_data(catalog: Catalog, settings: Settings, cache: FeatureCache) -> TrainingData:
    ids = catalog.train_ids()
    products = [p for p in catalog.products if p.id in ids]
    keys, _ = photo_keys(products)
    img, problems = encode_photos(products, keys, image_encoder(settings.image_encoder, settings.threads),
                                  cache, desc="catalog photos")
    keep = [i for i in range(len(products)) if i not in problems and np.all(np.isfinite(img[i]))]
    for i, why in sorted(problems.items()):
        log.warning("training skips %s: %s", products[i].id, why)
    products = [products[i] for i in keep]
    enc = text_encoder(settings.text_encoder, settings.threads)
    full = encode_texts([p.text() for p in products], enc, cache, desc="product texts")
    shorts = [p.short_text() for p in products]
    short = encode_texts(shorts, enc, cache, desc="short views")
    _, groups = np.unique(shorts, return_inverse=True)
    return TrainingData(products, img[keep], full, short, groups, [keys[i] for i in keep])


def _info_nce(a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE with (possibly several) positives per row, given as a 0/1 matrix."""
    logits = a @ b.T / temperature
    t = targets / targets.sum(dim=1, keepdim=True)
    loss_ab = -(t * logits.log_softmax(dim=1)).sum(dim=1).mean()
    t2 = targets.T / targets.T.sum(dim=1, keepdim=True)
    loss_ba = -(t2 * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (loss_ab + loss_ba) / 2


def _recall_at(query: np.ndarray, keys: np.ndarray, k: int) -> float:
    sims = query @ keys.T
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean([i in row for i, row in enumerate(top)]))


def fit(data: TrainingData, settings: Settings) -> JointSpace:
    """Train projection heads; seeded, so the same data and settings give the same space."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    card = SpaceCard(image_encoder=settings.image_encoder, text_encoder=settings.text_encoder,
                     image_dim=data.image.shape[1], text_dim=data.full.shape[1], dim=settings.space_dim,
                     data_hash=content_hash(*data.photo_keys, *(p.text() for p in data.products)),
                     products=len(data.products), seed=settings.seed)
    model = JointSpace(card)
    img, full, short = (torch.from_numpy(x) for x in (data.image, data.full, data.short))
    groups = torch.from_numpy(data.groups)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.train_lr, weight_decay=0.01)
    n = len(data.products)
    steps = settings.train_epochs * max(1, -(-n // settings.train_batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.train_lr, total_steps=steps)
    start, losses = time.time(), []
    model.train()
    for _ in range(settings.train_epochs):
        order = torch.from_numpy(rng.permutation(n))
        for s in range(0, n, settings.train_batch):
            b = order[s:s + settings.train_batch]
            if len(b) < 2:
                continue
            same = (groups[b][:, None] == groups[b][None, :]).float()
            eye = torch.eye(len(b))
            zi, zf, zs = model.forward_image(img[b]), model.forward_text(full[b]), model.forward_text(short[b])
            tau = settings.train_temperature
            loss = (_info_nce(zi, zf, eye, tau) + _info_nce(zi, zs, same, tau) + _info_nce(zs, zf, same, tau))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    model.eval()
    zi, zf = model.project_image(data.image), model.project_text(data.full)
    card.metrics = {"final_loss": round(float(np.mean(losses[-10:])), 4),
                    "train_seconds": round(time.time() - start, 1),
                    "text_to_image_r10_train_sample": round(_recall_at(zf[:1000], zi[:1000], 10), 4)}
    return model


def train(catalog: Catalog, settings: Settings, model_dir: str | Path | None = None) -> JointSpace:
    with FeatureCache(settings.cache_path / "features.sqlite") as cache:
        data = load_training_data(catalog, settings, cache)
        log.info("training the joint space on %d products", len(data.products))
        model = fit(data, settings)
        folder = Path(model_dir or settings.model_path)
        model.save(folder)
        log.info("trained in %.1fs: %s", model.card.metrics["train_seconds"], model.card.metrics)
        fusers = train_fusers(data, model, settings, cache, folder)
        model.card.metrics.update({f"fuser_{k}_seconds": v["train_seconds"] for k, v in fusers.items()})
        model.save(folder)
        train_photo_heads(catalog, settings, folder, cache)
    return model


CHANGE_PHRASES = {
    "base_colour": ("in {v}", "same but {v}", "do you have it in {v}", "like this but in {v}", "the {v} one",
                    "{v} instead", "same style in {v}", "can I get this in {v}", "this in {v} please"),
    "gender": ("same but for {v}", "for {v} instead", "the {v}'s version", "do you have this for {v}"),
    "usage": ("a {v} one", "something more {v}", "same but {v}"),
}


def composed_examples(products: list[Product], rng: np.random.Generator, per_product: int = 4
                      ) -> list[tuple[int, str, tuple[str, str, str, str]]]:
    """(reference index, change phrase, target key) made from the catalog itself: the target is every
    product with the reference's type and gender (and usage) but the asked colour / gender / usage."""
    by_key: dict[tuple[str, str, str, str], int] = {}
    for p in products:
        key = (p.article_type, p.gender, p.base_colour, p.usage)
        by_key[key] = by_key.get(key, 0) + 1
    out = []
    for i, p in enumerate(products):
        options = []
        for (t, g, c, u) in by_key:
            if t != p.article_type:
                continue
            if g == p.gender and u == p.usage and c != p.base_colour and c and c != "NA":
                options.append(("base_colour", c.lower(), (t, g, c, u)))
            elif c == p.base_colour and u == p.usage and g != p.gender and g in ("Men", "Women"):
                options.append(("gender", g.lower(), (t, g, c, u)))
            elif c == p.base_colour and g == p.gender and u != p.usage and u in ("Formal", "Casual", "Sports", "Ethnic"):
                options.append(("usage", u.lower(), (t, g, c, u)))
        for j in rng.permutation(len(options))[:per_product]:
            facet, value, key = options[j]
            templates = CHANGE_PHRASES[facet]
            out.append((i, templates[rng.integers(len(templates))].format(v=value), key))
    return out


def train_fusers(data: TrainingData, space: JointSpace, settings: Settings, cache: FeatureCache,
                 folder: str | Path) -> dict[str, dict[str, float]]:
    """Train the learned fusers (concat, attention) on composed requests made from the catalog."""
    from .fusion import LEARNED, LearnedFuser, write_fusion_card

    rng = np.random.default_rng(settings.seed)
    examples = composed_examples(data.products, rng, settings.fusion_examples_per_product)
    phrases = sorted({e[1] for e in examples})
    enc = text_encoder(settings.text_encoder, settings.threads)
    phrase_vec = dict(zip(phrases, space.project_text(encode_texts(phrases, enc, cache, desc="change phrases")),
                          strict=True))
    img_q = torch.from_numpy(space.project_image(data.image))
    targets = torch.from_numpy(space.product_vectors(data.image, data.full, settings.product_image_weight))
    key_of = [(p.article_type, p.gender, p.base_colour, p.usage) for p in data.products]
    members: dict[tuple, list[int]] = {}
    for i, k in enumerate(key_of):
        members.setdefault(k, []).append(i)
    keys = sorted(members)
    key_id = {k: n for n, k in enumerate(keys)}
    ref = torch.tensor([e[0] for e in examples])
    txt = torch.from_numpy(np.stack([phrase_vec[e[1]] for e in examples]))
    want = torch.tensor([key_id[e[2]] for e in examples])
    sizes = np.array([len(members[k]) for k in keys])
    flat = np.concatenate([members[k] for k in keys])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    want_np = want.numpy()
    metrics: dict[str, dict[str, float]] = {}
    for name, cls in LEARNED.items():
        torch.manual_seed(settings.seed)
        module = cls(space.card.dim)
        opt = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=0.01)
        start, losses = time.time(), []
        module.train()
        for _ in range(settings.fusion_epochs):
            order = torch.from_numpy(rng.permutation(len(examples)))
            for s in range(0, len(order), settings.train_batch):
                b = order[s:s + settings.train_batch]
                kb = want_np[b.numpy()]  # one random target product from each example's target set
                picked = torch.from_numpy(flat[offsets[kb] + rng.integers(0, sizes[kb])])
                fused = module(img_q[ref[b]], txt[b])
                same = (want[b][:, None] == want[b][None, :]).float()
                loss = _info_nce(fused, targets[picked], same, settings.train_temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        LearnedFuser(name, module).save(folder)
        metrics[name] = {"examples": len(examples), "final_loss": round(float(np.mean(losses[-10:])), 4),
                         "train_seconds": round(time.time() - start, 1)}
        log.info("fuser %s trained: %s", name, metrics[name])
    write_fusion_card(folder, metrics)
    return metrics
