"""Command line: train, ingest, search, eval, chat, tryon (the contract the product is evaluated by)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import DEMO_BUNDLE, DEMO_CATALOG, Settings


def _settings(args: argparse.Namespace) -> Settings:
    fusion = getattr(args, "fusion", None)
    return Settings.from_env(model_dir=getattr(args, "model", None), index_dir=getattr(args, "index", None),
                             fusion=None if fusion == "all" else fusion)


def cmd_train(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .train import train
    from .train_photo import train_photo_heads

    settings = _settings(args)
    catalog = read_catalog(args.catalog or settings.catalog_dir)
    for p in catalog.problems:
        print(f"skipped {p}", file=sys.stderr)
    if args.photo_only:
        heads = train_photo_heads(catalog, settings, settings.model_path)
        print(json.dumps({"model": str(settings.model_path), **heads.card.metrics}))
        return 0
    model = train(catalog, settings, settings.model_path)
    print(json.dumps({"model": str(settings.model_path), **model.card.metrics}))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .bootstrap import prebuilt_for
    from .index import ProductIndex
    from .ingest import ingest
    from .space import JointSpace

    settings = _settings(args)
    space = JointSpace.load(settings.model_path)
    index = ProductIndex(settings.index_path, settings.chroma_host, settings.chroma_port, settings.collection_prefix)
    prebuilt = prebuilt_for(Path(settings.bundle_dir) if settings.bundle_dir else None, settings)
    report = ingest(args.catalog or [settings.catalog_dir], space, index, settings, prune=args.prune,
                    chunk=args.chunk, prebuilt=prebuilt)
    for p in report.problems:
        print(f"skipped {p}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from .ingest import bundle_catalog
    from .space import JointSpace

    settings = _settings(args)
    manifest = bundle_catalog(args.catalog, JointSpace.load(settings.model_path), settings, args.out)
    size = sum((Path(args.out) / name).stat().st_size for name in manifest["files"])
    print(json.dumps({"bundle": args.out, "products": manifest["products"], "files": len(manifest["files"]),
                      "megabytes": round(size / 1e6, 2)}))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .evaluate import load_queries, run_queries

    engine = Engine(_settings(args))
    lines = run_queries(engine, load_queries([args.queries]), args.top_k)
    out = open(args.out, "w", encoding="utf-8") if args.out != "-" else sys.stdout  # noqa: SIM115
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    if out is not sys.stdout:
        out.close()
    errors = sum(1 for line in lines if "error" in line)
    print(f"{len(lines)} queries answered, {errors} with an error", file=sys.stderr)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .chat import Assistant
    from .dialogues import load_dialogues, play, score, table
    from .engine import Engine

    dialogues = load_dialogues(args.dialogues)
    assistant = Assistant(Engine(_settings(args)), depth=args.top_k)
    records = []
    out = open(args.out, "w", encoding="utf-8") if args.out != "-" else sys.stdout  # noqa: SIM115
    for d in dialogues:
        records.append(play(assistant, d, args.top_k))
        out.write(json.dumps(records[-1], ensure_ascii=False) + "\n")
        out.flush()
    if out is not sys.stdout:
        out.close()
    errors = sum(1 for r in records for t in r["turns"] if "error" in t)
    print(f"{len(records)} dialogues played, {sum(len(r['turns']) for r in records)} turns, {errors} with an error",
          file=sys.stderr)
    if args.catalog:
        products = {p.id: p for c in args.catalog for p in read_catalog(c).products}
        summary = score(dialogues, records, products)
        print(table(summary))
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


def cmd_intents(args: argparse.Namespace) -> int:
    from .catalog import FACETS, read_catalog
    from .intents import IntentModel, fit, read_labelled, report, use_encoder
    from .understanding import Vocabulary, understand

    catalog = read_catalog(args.catalog or _settings(args).catalog_dir)
    values: dict[str, dict[str, int]] = {f: {} for f in FACETS}
    for p in catalog.products:
        for f in FACETS:
            if getattr(p, f):
                values[f][getattr(p, f)] = values[f].get(getattr(p, f), 0) + 1
    heldout = Path(args.heldout) if args.heldout else None
    if args.action == "train":
        model, card = fit(values, heldout, args.seed)
        card["command"] = f"python -m assistant intents train --seed {args.seed}"
        model.save(Path(args.out), card)
        print(json.dumps(card))
        return 0
    if heldout is None:
        raise SystemExit("intents eval needs --heldout FILE")
    vocab = Vocabulary(values)
    print(report(IntentModel.load(Path(args.out)), read_labelled(heldout), use_encoder().encode_text,
                 lambda text: understand(text, vocab)))
    return 0


def cmd_product_qa(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .product_qa import QUESTION_SETS, score

    products = {p.id: p.to_row() for p in read_catalog(args.catalog or _settings(args).catalog_dir).products}
    worst = 1.0
    for path in args.questions or QUESTION_SETS:
        questions = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        missing = sorted({q["product"] for q in questions} - products.keys())
        if missing:
            raise SystemExit(f"products not in the catalog: {', '.join(missing)}")
        accuracy, wrong = score(questions, products)
        for q, got in wrong:
            print(f"WRONG {q['product']} {q['question']!r}: expected {q['expect']} {q.get('contains', [])}, "
                  f"got {got.verdict}: {got.text}")
        print(f"{Path(path).parent.name}: questions {len(questions)}  products {len({q['product'] for q in questions})}  "
              f"correct {len(questions) - len(wrong)}  accuracy {accuracy:.3f}")
        worst = min(worst, accuracy)
    return 0 if worst >= args.min_accuracy else 1


def cmd_tryon(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .engine import Engine
    from .tryon.render import render

    engine = Engine(_settings(args))
    product = engine.details(args.product)
    if product is None:
        raise SystemExit(f"product {args.product} is not in the index")
    image, report = render(Path(args.person), product, engine.settings)
    if image is not None:
        image.save(args.out)
    print(json.dumps({**asdict(report), "out": args.out if image is not None else None}, ensure_ascii=False))
    return 0 if report.ok else 1


MAIN_METRIC = {"text": "p@10", "zh": "p@10", "natural": "ndcg@10", "photo": "r@1", "composed": "p@10",
               "filter": "p@10", "voice": "p@10", "shopper": "r@1", "realphoto": "match@1", "composed-shopper": "p@10",
               "voice-noisy": "p@10"}


def cmd_eval(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .engine import Engine
    from .evaluate import load_queries, photo_report, photo_table, run_queries, score, table
    from .fusion import STRATEGIES

    base = _settings(args)
    strategies = list(STRATEGIES) if args.fusion == "all" else [base.fusion]
    queries = load_queries(args.queries)
    products = {p.id: p for c in (args.catalog or [base.catalog_dir]) for p in read_catalog(c).products}
    summaries = {}
    for strategy in strategies:
        engine = Engine(Settings(**{**base.__dict__, "fusion": strategy}))
        lines = run_queries(engine, queries, args.top_k)
        answered = {line["qid"]: line for line in lines}
        summaries[strategy] = score(queries, answered, products)
        print(table(summaries[strategy], f"fusion: {strategy}"), flush=True)
        photos = photo_report(queries, answered, products)
        if photos:
            print(photo_table(photos), flush=True)
    if len(strategies) > 1:
        print(comparison(summaries))
        if args.plot:
            plot_comparison(summaries, args.plot)
            print(f"chart saved to {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(summaries if len(strategies) > 1 else summaries[strategies[0]], indent=1))
    return 0


def comparison(summaries: dict[str, dict[str, dict[str, float]]]) -> str:
    kinds = sorted({k for s in summaries.values() for k in s})
    head = f"{'strategy':10} " + " ".join(f"{k + ' ' + MAIN_METRIC.get(k, 'ndcg@10'):>18}" for k in kinds)
    rows = [head] + [f"{name:10} " + " ".join(f"{s.get(k, {}).get(MAIN_METRIC.get(k, 'ndcg@10'), float('nan')):>18.3f}"
                                               for k in kinds) for name, s in summaries.items()]
    return "\n".join(["fusion strategy x query kind (main metric per kind)", *rows])


def plot_comparison(summaries: dict[str, dict[str, dict[str, float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    kinds = sorted({k for s in summaries.values() for k in s})
    width = 0.8 / len(summaries)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for n, (name, s) in enumerate(summaries.items()):
        values = [s.get(k, {}).get(MAIN_METRIC.get(k, "ndcg@10"), 0.0) for k in kinds]
        ax.bar(np.arange(len(kinds)) + n * width, values, width, label=name)
    ax.set_xticks(np.arange(len(kinds)) + width * (len(summaries) - 1) / 2,
                  [f"{k}\n{MAIN_METRIC.get(k, 'ndcg@10')}" for k in kinds])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score on the dev set")
    ax.set_title("Fusion strategies by query kind")
    ax.legend(ncol=len(summaries), loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return n


def build_parser() -> argparse.ArgumentParser:
    defaults = Settings.from_env()
    p = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="learn the joint image–text space from a catalog")
    t.add_argument("--catalog", default=None, help=f"catalog folder (default {defaults.catalog_dir})")
    t.add_argument("--model", default=None, help=f"where to save the model (default {defaults.model_path})")
    t.add_argument("--photo-only", action="store_true",
                   help="train only the photo heads, beside a joint space already in --model")
    t.set_defaults(func=cmd_train)

    i = sub.add_parser("ingest", help="index one or more catalogs with a trained model")
    i.add_argument("--catalog", action="append", default=None, help="catalog folder (repeatable)")
    i.add_argument("--model", default=None, help=f"trained model folder (default {defaults.model_path})")
    i.add_argument("--index", default=None, help=f"Chroma folder (default {defaults.index_path})")
    i.add_argument("--prune", action="store_true", help="remove indexed products that are gone from the catalogs")
    i.add_argument("--chunk", type=_positive_int, default=256,
                   help="products embedded and written per step (a killed run keeps every finished step)")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("bundle", help="write a catalog's prebuilt bundle: the model and every product's vectors")
    b.add_argument("--catalog", default=str(DEMO_CATALOG), help="catalog folder (default: the demo catalog)")
    b.add_argument("--model", default=None, help=f"trained model folder (default {defaults.model_path})")
    b.add_argument("--out", default=str(DEMO_BUNDLE), help="bundle folder (default: catalog/bundle beside the demo)")
    b.set_defaults(func=cmd_bundle)

    s = sub.add_parser("search", help="answer a file of queries (JSONL) into a results file")
    s.add_argument("--model", default=None)
    s.add_argument("--index", default=None)
    s.add_argument("--queries", required=True, help="queries JSONL (text / image / audio, paths relative to it)")
    s.add_argument("--out", default="-", help="results JSONL (default stdout)")
    s.add_argument("--top-k", type=int, default=50)
    s.add_argument("--fusion", default=None, help="fusion strategy for photo + words")
    s.set_defaults(func=cmd_search)

    e = sub.add_parser("eval", help="search and score query sets, printed as a table")
    e.add_argument("--queries", nargs="+", required=True, help="query folders or JSONL files")
    e.add_argument("--model", default=None)
    e.add_argument("--index", default=None)
    e.add_argument("--catalog", action="append", default=None, help="catalog(s) for prices and facets")
    e.add_argument("--top-k", type=int, default=50)
    e.add_argument("--fusion", default=None, help="fusion strategy for photo + words, or 'all' to compare them")
    e.add_argument("--plot", default=None, help="with --fusion all: save a bar chart (PNG) here")
    e.add_argument("--json", default=None, help="also write the summary as JSON here")
    e.set_defaults(func=cmd_eval)

    c = sub.add_parser("chat", help="play multi-turn dialogues (JSONL) through the chat into a results file")
    c.add_argument("--model", default=None)
    c.add_argument("--index", default=None)
    c.add_argument("--dialogues", required=True, help="dialogues JSONL (turns: text / image / audio, paths relative to it)")
    c.add_argument("--out", default="-", help="results JSONL, one line per dialogue (default stdout)")
    c.add_argument("--top-k", type=int, default=50, help="ids kept per turn")
    c.add_argument("--catalog", action="append", default=None,
                   help="catalog(s): score the dialogues' expectations and print the table")
    c.add_argument("--json", default=None, help="with --catalog: also write the scores (per turn too) as JSON here")
    c.set_defaults(func=cmd_chat)

    from .intents import MODEL_DIR

    n = sub.add_parser("intents", help="the follow-up intent model: train it (seeded) or measure it on labelled messages")
    n.add_argument("action", choices=["train", "eval"])
    n.add_argument("--catalog", default=None, help="catalog whose facet values the slot flags are read with")
    n.add_argument("--out", default=str(MODEL_DIR), help=f"model folder (default {MODEL_DIR})")
    n.add_argument("--heldout", default=str(Path(__file__).resolve().parent.parent / "eval" / "intents-heldout.jsonl"),
                   help="labelled messages ({text, act} JSONL) the model never trains on")
    n.add_argument("--seed", type=int, default=0)
    n.set_defaults(func=cmd_intents)

    q = sub.add_parser("product-qa", help="score answers to questions about products (the dev and held-out sets)")
    q.add_argument("--questions", action="append", default=None,
                   help="questions JSONL (product, question, expect, contains); repeatable; default: "
                        "eval/product-questions and eval/product-questions-heldout")
    q.add_argument("--catalog", default=str(DEMO_CATALOG), help="catalog holding the products (default: the demo catalog)")
    q.add_argument("--min-accuracy", type=float, default=0.9, help="exit 1 below this share right")
    q.set_defaults(func=cmd_product_qa)

    y = sub.add_parser("tryon", help="the fitting room: a photo of a person wearing a catalog top (a 2-D preview)")
    y.add_argument("--person", required=True, help="photo of one person, standing, from the front")
    y.add_argument("--product", required=True, help="product id (a top)")
    y.add_argument("--out", required=True, help="where to write the picture (PNG)")
    y.add_argument("--model", default=None)
    y.add_argument("--index", default=None)
    y.set_defaults(func=cmd_tryon)

    from .hf_import import add_catalog_commands

    add_catalog_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from .encoders.base import ModelFileError
    from .errors import InputError
    from .index import IndexUnavailable

    try:
        return args.func(args)
    except (InputError, ModelFileError, IndexUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
