"""How often "the same product" is claimed, and rightly, from matching photo details (`photo.same_photos`):
on shopper-style views of catalog `train` products (seeded, `augment.shopper_view`, laid on corners of `train`
real photos as in training) and on `train` real photos (no catalog product in any). Sweeps the claim rule's
settings over the same matches; the engine's own settings are marked with *. Dev sets are never read.

    python scripts/claim_check.py --views 400 --real 600
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from PIL import Image

from assistant.augment import shopper_view
from assistant.catalog import content_hash, decode_image, image_bytes, read_catalog
from assistant.config import Settings
from assistant.engine import Engine
from assistant.photo import Match, details, same_photos
from assistant.train_photo import real_photos


def matches(engine: Engine, photo: Image.Image) -> dict[str, Match]:
    """The matches the engine weighs for a photo alone: its nearest catalog photos by the photo's query as the
    engine reads it (`Engine.search` also re-reads a catalog-like photo whose item touches the frame as it is;
    shopper-style views and real photos are not)."""
    reading = engine.read_photo(photo)
    hits = engine.index.query(reading.query, engine.settings.photo_match_candidates, photos=True)
    return engine.photo_matches(details(photo), hits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--views", type=int, default=400, help="shopper-style views of train products")
    ap.add_argument("--real", type=int, default=600, help="train real photos")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = Settings.from_env()
    engine = Engine(settings)
    catalog = read_catalog(settings.catalog_dir)
    rng = np.random.default_rng(args.seed)
    keep = catalog.train_ids()
    train = sorted((p for p in catalog.products if p.id in keep), key=lambda p: p.id)
    reals = real_photos(settings.real_photos_dir, "train")
    order = rng.permutation(len(reals))
    surfaces = [Image.open(reals[i][0]).convert("RGB") for i in order[: settings.photo_view_surfaces]]
    strangers = [reals[i][0] for i in order[settings.photo_view_surfaces:][: args.real]]
    same_photo: dict[str, set[str]] = {}  # a product listed twice: its photo's digest as the engine takes it
    for p in catalog.products:
        same_photo.setdefault(content_hash(image_bytes(p.image)), set()).add(p.id)
    twins = {pid: ids for ids in same_photo.values() for pid in ids}
    views = []
    for i in rng.permutation(len(train))[: args.views]:
        product = train[i]
        views.append((product.id, matches(engine, shopper_view(decode_image(image_bytes(product.image)), rng, surfaces))))
    real = [matches(engine, Image.open(path).convert("RGB")) for path in strangers]
    ours = (settings.photo_match_points, settings.photo_match_rest)
    for path, m in zip(strangers, real, strict=True):
        if same_photos(m, *ours):
            print(f"real photo claimed: {path} -> {same_photos(m, *ours)} ({ {k: v.points for k, v in m.items()} })")
    print(f"{len(views)} views of train products, {len(real)} train real photos")
    print(f"{'points':>6} {'rest':>5} {'claimed':>8} {'right':>6} {'real claimed':>12}")
    for rule in itertools.product((6, 8, 10, 12), (0.6, 0.7, 0.8)):
        made = [(pid, c) for pid, m in views if (c := same_photos(m, *rule))]
        right = sum(all(i in twins[pid] for i in c) for pid, c in made)  # every product claimed is the one shown
        stranger = sum(bool(same_photos(m, *rule)) for m in real)
        mark = "*" if rule == ours else ""
        print(f"{rule[0]:>6} {rule[1]:>5} {len(made) / max(1, len(views)):>8.3f} "
              f"{right / max(1, len(made)):>6.3f} {stranger / max(1, len(real)):>12.3f} {mark}".rstrip())


if __name__ == "__main__":
    main()
