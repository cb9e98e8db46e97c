"""`make eval-demo`: does the demo catalog search as well as the full catalog, on the dev queries that fit it?

A dev query fits the demo catalog when at least one of its grade-2 products (for a photo: the very product)
is in it. Each fitting query is answered twice by the real engine: over the demo catalog's index (its
grades kept to the demo's products, so nDCG@10 is normalised by what the demo can return) and over the full
catalog's index (its grades as they are). P@10 is also given over the queries with at least 10 grade-2
products in the demo (elsewhere the demo cannot fill a page of exact matches, whatever the ranking), and
exact@k over every fitting query: the share of the first k results that are grade-2, k = min(10, how many
grade-2 products the catalog searched holds): 1.0 when every exact match the catalog has comes first.
The demo's index is built as a fresh clone's first start builds it (`ensure_ready`: the bundle's model and
vectors) when `--demo-data` holds none; the full catalog's is `--full-data`'s (built by `make run` when
missing). Both models' weights checksums are printed: the same recipe on the same data gives the same."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.bootstrap import ensure_ready
from assistant.catalog import read_catalog
from assistant.config import DEMO_CATALOG, Settings
from assistant.evaluate import load_queries, run_queries, score

FIT_KINDS = ("text", "zh", "photo")
METRICS = ("ndcg@10", "exact@k", "p@10", "r@1", "r@10")


def exact_first(queries: list[dict], lines: dict[str, dict]) -> dict[str, float]:
    """Per kind: the mean share of the first k results that are grade-2, k = min(10, grade-2 products)."""
    shares: dict[str, list[float]] = {}
    for q in queries:
        exact = {k for k, v in q["relevant"].items() if v == 2}
        k = min(10, len(exact))
        top = [str(x) for x in lines.get(q["qid"], {}).get("results", [])[:k]]
        shares.setdefault(q["kind"], []).append(sum(x in exact for x in top) / k)
    return {kind: sum(v) / len(v) for kind, v in shares.items()}


def fitting(queries: list[dict], ids: set[str]) -> list[dict]:
    """The queries with a grade-2 product among `ids`, their grades kept to those ids."""
    out = []
    for q in queries:
        rel = {k: v for k, v in q.get("relevant", {}).items() if k in ids}
        if any(v == 2 for v in rel.values()):
            out.append({**q, "relevant": rel})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=Path, required=True, help="the dev query folder")
    ap.add_argument("--kinds", default=",".join(FIT_KINDS))
    ap.add_argument("--demo-data", required=True, help="DATA_DIR whose index holds the demo catalog")
    ap.add_argument("--full-data", required=True, help="DATA_DIR whose index holds the full catalog")
    ap.add_argument("--full-catalog", required=True)
    ap.add_argument("--demo-catalog", default=str(DEMO_CATALOG))
    ap.add_argument("--json", default="", help="also save the numbers here")
    args = ap.parse_args()
    demo_products = {p.id: p for p in read_catalog(args.demo_catalog).products}
    full_products = {p.id: p for p in read_catalog(args.full_catalog).products}
    kinds = args.kinds.split(",")
    queries = [q for q in load_queries([args.queries / f"{k}.jsonl" for k in kinds]) if "invalid" not in q]
    demo_q = fitting(queries, set(demo_products))
    fit = {q["qid"] for q in demo_q}
    full_q = [q for q in queries if q["qid"] in fit]
    page = {q["qid"] for q in demo_q if sum(v == 2 for v in q["relevant"].values()) >= 10}
    rows: dict[str, dict] = {}
    for name, data, qs, products in (("demo", args.demo_data, demo_q, demo_products),
                                     ("full", args.full_data, full_q, full_products)):
        engine = ensure_ready(Settings.from_env(data_dir=data, catalog_dir=args.demo_catalog if name == "demo"
                                                else args.full_catalog))
        print(f"{name}: {engine.index.count()} products, model weights {engine.space.card.weights_sha256[:12]}")
        lines = {line["qid"]: line for line in run_queries(engine, qs)}
        rows[name] = score(qs, lines, products)
        for kind, value in exact_first(qs, lines).items():
            rows[name][kind]["exact@k"] = value
        rows[name + " page"] = score([q for q in qs if q["qid"] in page], lines, products)
    print(f"dev queries that fit the demo catalog ({len(demo_products)} products) vs the same queries on the "
          f"full catalog ({len(full_products)}); p@10 over the queries with >= 10 grade-2 products in the demo")
    print(f"{'kind':7} {'fit':>4} {'of':>4} {'page':>5}  " + "  ".join(f"{m + ' demo':>12} {m + ' full':>12}"
                                                             for m in METRICS))
    for kind in kinds:
        total = sum(1 for q in queries if q["kind"] == kind)
        cells = []
        for m in METRICS:
            src = "page" if m == "p@10" else ""
            demo, full = (rows[f"{n} {src}".strip()].get(kind, {}).get(m) for n in ("demo", "full"))
            cells.append(" ".join(f"{v:>12.3f}" if v is not None else f"{'-':>12}" for v in (demo, full)))
        n_page = int(rows["demo page"].get(kind, {}).get("n", 0))
        print(f"{kind:7} {int(rows['demo'].get(kind, {}).get('n', 0)):>4} {total:>4} {n_page:>5}  " + "  ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
