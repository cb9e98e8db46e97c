"""Command line: train, ingest, search, eval (the contract the product is evaluated by)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(model_dir=getattr(args, "model", None), index_dir=getattr(args, "index", None),
                             fusion=getattr(args, "fusion", None))


def cmd_train(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .train import train

    settings = _settings(args)
    catalog = read_catalog(args.catalog or settings.catalog_dir)
    for p in catalog.problems:
        print(f"skipped {p}", file=sys.stderr)
    model = train(catalog, settings, settings.model_path)
    print(json.dumps({"model": str(settings.model_path), **model.card.metrics}))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .index import ProductIndex
    from .ingest import ingest
    from .space import JointSpace

    settings = _settings(args)
    space = JointSpace.load(settings.model_path)
    index = ProductIndex(settings.index_path, settings.chroma_host, settings.chroma_port, settings.collection_prefix)
    report = ingest(args.catalog or [settings.catalog_dir], space, index, settings, prune=args.prune)
    for p in report.problems:
        print(f"skipped {p}", file=sys.stderr)
    print(report.summary())
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


def cmd_eval(args: argparse.Namespace) -> int:
    from .catalog import read_catalog
    from .engine import Engine
    from .evaluate import load_queries, run_queries, score, table

    settings = _settings(args)
    engine = Engine(settings)
    queries = load_queries(args.queries)
    prices = {p.id: p.effective_price for c in (args.catalog or [settings.catalog_dir])
              for p in read_catalog(c).products}
    lines = run_queries(engine, queries, args.top_k)
    summary = score(queries, {line["qid"]: line for line in lines}, prices)
    print(table(summary, f"fusion: {settings.fusion}"))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    defaults = Settings.from_env()
    p = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="learn the joint image–text space from a catalog")
    t.add_argument("--catalog", default=None, help=f"catalog folder (default {defaults.catalog_dir})")
    t.add_argument("--model", default=None, help=f"where to save the model (default {defaults.model_path})")
    t.set_defaults(func=cmd_train)

    i = sub.add_parser("ingest", help="index one or more catalogs with a trained model")
    i.add_argument("--catalog", action="append", default=None, help="catalog folder (repeatable)")
    i.add_argument("--model", default=None, help=f"trained model folder (default {defaults.model_path})")
    i.add_argument("--index", default=None, help=f"Chroma folder (default {defaults.index_path})")
    i.add_argument("--prune", action="store_true", help="remove indexed products that are gone from the catalogs")
    i.set_defaults(func=cmd_ingest)

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
    e.add_argument("--catalog", action="append", default=None, help="catalog(s) for prices")
    e.add_argument("--top-k", type=int, default=50)
    e.add_argument("--fusion", default=None, help="fusion strategy for photo + words")
    e.add_argument("--json", default=None, help="also write the summary as JSON here")
    e.set_defaults(func=cmd_eval)
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
