"""Pick the products of a held-out question set (eval/product-questions-heldout): demo-catalog products not
in the dev question set, one kind of product (article type) after another so the commonest kinds come first
and no kind twice before every kind has one, in a seeded order. Prints each product's own data (what the
questions' expected answers are read from) or, with --ids, just the ids.

    python scripts/pick_qa_products.py --n 24 --seed 15
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

from assistant.catalog import read_catalog
from assistant.config import DEMO_CATALOG, REPO

DEV = REPO / "eval" / "product-questions" / "questions.jsonl"


def pick(products: dict[str, dict], exclude: set[str], n: int, seed: int) -> list[str]:
    """n product ids, round-robin over article types (commonest first), each type's products shuffled."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for pid, p in sorted(products.items()):
        if pid not in exclude and p.get("description"):
            by_kind[str(p.get("article_type") or "")].append(pid)
    rng = random.Random(seed)
    for ids in by_kind.values():
        rng.shuffle(ids)
    kinds = sorted(by_kind, key=lambda k: (-len(by_kind[k]), k))
    out: list[str] = []
    while len(out) < n and any(by_kind.values()):
        for kind in kinds:
            if by_kind[kind] and len(out) < n:
                out.append(by_kind[kind].pop())
    return out


def sheet(p: dict) -> str:
    """What the catalog says about a product, as a shopper-facing answer may quote it."""
    head = (f"{p['id']} {p.get('title')} | {p.get('gender')} {p.get('article_type')} | colour {p.get('base_colour')} "
            f"{p.get('colours')} | price {p.get('price')} sale {p.get('sale_price')} | brand {p.get('brand')}")
    return "\n".join([head, f"sizes: {p.get('sizes')}", f"attributes: {json.dumps(p.get('attributes') or {})}",
                      "description:", str(p.get("description") or ""), ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", default=str(DEMO_CATALOG))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--ids", action="store_true", help="print only the ids")
    args = ap.parse_args()
    products = {p.id: p.to_row() for p in read_catalog(Path(args.catalog)).products}
    dev = {json.loads(line)["product"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()}
    for pid in pick(products, dev, args.n, args.seed):
        print(pid if args.ids else sheet(products[pid]))


if __name__ == "__main__":
    main()
