"""Make the demo catalog shipped in the repository (catalog/demo/): a seeded, curated slice of the shared
fashion catalog that a fresh clone serves with nothing beside it.

    python scripts/make_demo_catalog.py [--source ../shared/datasets/fashion] [--out catalog/demo] [--size 1600]

How it is chosen (the same source, size and seed give the same slice):
1. every (gender, article type) pair and every colour of the full catalog, up to 2 products each, so every
   article type, gender and colour is there;
2. the products the app's own examples ask for (its example requests and voice clips: black heels under
   1,500 rupees, blue jeans for men, women's handbags under 1,000 rupees, …), up to 12 per request;
3. the rest of the budget as a stratified sample: each (gender, article type, colour) group gets its share
   of `--size` in proportion to its size in the full catalog (at least one for groups of 5 or more), so
   common requests ("men's blue shirts") find a full page of results.
Within a group products are taken from a seeded shuffle, a brand not yet taken first, so brands and
prices spread. Photos are copied byte for byte (168x224 JPEG, ~7 KB each): their content hashes stay
those of the full catalog, which is what the prebuilt vectors in catalog/bundle/ are keyed by.
`splits.json` keeps each product's split (train/dev) from the full catalog, so `make eval` works on the demo.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_PAIR = 2  # products per (gender, article type) pair and per colour, at least
PER_EXAMPLE = 12  # products per example request (a page of results)
MIN_GROUP = 5  # (gender, type, colour) groups at least this big get at least one product
# what the app's examples ask for (assistant/ui/loader.py TEXT_EXAMPLES, assets/voice/*.txt), as catalog fields
EXAMPLES = (
    ("black heels under 1500 rupees", {"gender": "Women", "article_type": "Heels", "base_colour": "Black"}, 1500),
    ("blue jeans for men", {"gender": "Men", "article_type": "Jeans", "base_colour": "Blue"}, None),
    ("red dress for a party", {"article_type": "Dresses", "base_colour": "Red"}, None),
    ("我想买1000元以下的女士手提包", {"gender": "Women", "article_type": "Handbags"}, 1000),
    ("男士黑色运动鞋", {"gender": "Men", "article_type": "Sports Shoes", "base_colour": "Black"}, None),
    ("a black watch for men", {"gender": "Men", "article_type": "Watches", "base_colour": "Black"}, None),
    ("blue shirts for men", {"gender": "Men", "article_type": "Shirts", "base_colour": "Blue"}, None),
    ("women's pink tops", {"gender": "Women", "article_type": "Tops", "base_colour": "Pink"}, None),
)
SOURCE_NOTE = """# Source and licence of the demo catalog

These {n} products and photos are a slice of the fashion catalog this project is developed on
(`../shared/datasets/fashion`, 8,583 products): real products of the Indian fashion retailer Myntra
(2011–2017) from the public "Fashion Product Images (Small)" data set (Param Aggarwal, published on
Kaggle; mirrored on Hugging Face as `ashraq/fashion-product-images-small`, which
`python -m assistant catalog import-hf` converts). The shared copy names no licence; the public source
lists the MIT licence. Check that source's terms before redistributing the photos beyond this demo.

Made by `python scripts/make_demo_catalog.py --size {size} --seed {seed}` (see its docstring for how the
products are chosen); rows and photos are unchanged copies of the full catalog's.
"""


def sale_price(row: dict) -> float:
    value = row.get("sale_price") if row.get("sale_price") is not None else row.get("price")
    return float(value) if value is not None else -1.0


def pick_in(rows: list[dict], n: int, rng: random.Random, taken: set[str]) -> list[dict]:
    """Up to n rows not yet taken, from a seeded shuffle, a brand not yet picked here first."""
    pool = [r for r in rows if r["id"] not in taken]
    rng.shuffle(pool)
    brands: set[str] = set()
    first, rest = [], []
    for r in pool:
        (rest if r.get("brand") in brands else first).append(r)
        brands.add(r.get("brand"))
    return (first + rest)[:n]


def choose(rows: list[dict], size: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    chosen: dict[str, dict] = {}

    def take(picked: list[dict]) -> None:
        chosen.update((r["id"], r) for r in picked)

    pairs: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in rows:
        pairs[(r["gender"], r["article_type"])].append(r)
        pairs[("colour", r["base_colour"])].append(r)
        groups[(r["gender"], r["article_type"], r["base_colour"])].append(r)
    for key in sorted(pairs):
        take(pick_in(pairs[key], PER_PAIR, rng, set(chosen)))
    for _, fields, budget in EXAMPLES:
        fit = [r for r in rows if all(r.get(k) == v for k, v in fields.items())
               and (budget is None or 0 <= sale_price(r) <= budget)]
        take(pick_in(fit, PER_EXAMPLE, rng, set(chosen)))
    # each group's share of the whole budget, less what steps 1-2 already took from it
    share = {k: len(v) * size / len(rows) for k, v in groups.items()}
    have = {k: sum(1 for r in v if r["id"] in chosen) for k, v in groups.items()}
    quota = {k: max(int(s), 1 if len(groups[k]) >= MIN_GROUP else 0, have[k]) for k, s in share.items()}
    # largest remainders fill what rounding down left
    short = size - sum(quota.values())
    for k in sorted(share, key=lambda k: (-(share[k] - int(share[k])), k))[:max(0, short)]:
        quota[k] += 1
    for key in sorted(groups):
        take(pick_in(groups[key], quota[key] - have[key], rng, set(chosen)))
    order = {r["id"]: n for n, r in enumerate(rows)}
    return sorted(chosen.values(), key=lambda r: order[r["id"]])


def write(source: Path, out: Path, picked: list[dict], size: int, seed: int) -> int:
    """The demo catalog folder; returns the bytes of its photos."""
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    photo_bytes = 0
    with (out / "products.jsonl").open("w", encoding="utf-8") as f:
        for r in picked:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            photo = source / r["image"]
            shutil.copyfile(photo, out / r["image"])
            photo_bytes += photo.stat().st_size
    splits = json.loads((source / "splits.json").read_text())
    ids = {r["id"] for r in picked}
    (out / "splits.json").write_text(json.dumps({k: [i for i in v if i in ids] for k, v in splits.items()}) + "\n")
    (out / "SOURCE.md").write_text(SOURCE_NOTE.format(n=len(picked), size=size, seed=seed), encoding="utf-8")
    return photo_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "datasets" / "fashion")
    ap.add_argument("--out", type=Path, default=ROOT / "catalog" / "demo")
    ap.add_argument("--size", type=int, default=1600, help="products (about; every type/gender pair and the examples come first)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rows = [json.loads(line) for line in (args.source / "products.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    picked = choose(rows, args.size, args.seed)
    photo_bytes = write(args.source, args.out, picked, args.size, args.seed)
    split = json.loads((args.out / "splits.json").read_text())
    print(f"{len(picked)} products ({', '.join(f'{k} {len(v)}' for k, v in split.items())}), "
          f"{len({r['article_type'] for r in picked})} article types, {len({r['gender'] for r in picked})} genders, "
          f"{len({r['brand'] for r in picked})} brands, {len({r['base_colour'] for r in picked})} colours; "
          f"photos {photo_bytes / 1e6:.1f} MB -> {args.out}")


if __name__ == "__main__":
    main()
