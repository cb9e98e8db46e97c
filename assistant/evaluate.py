"""Quality metrics over query sets (the same definitions as the judging script) and result tables."""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from .catalog import Product
from .engine import Engine
from .errors import InputError
from .index import IndexUnavailable

PHOTO_FIELDS = ("article_type", "base_colour", "gender")
PHOTO_COLUMNS = ["type", "colour", "gender", "said", "claimed", "claim_right"]
COLUMNS = ["ndcg@10", "p@10", "match@1", "r@1", "r@10", "mrr", "similar@10", "compliance", "wer", "lat_p50", "lat_p95", "missing"]


def wer(reference: str, hypothesis: str | None) -> float:
    r = re.findall(r"\w+", reference.lower())
    h = re.findall(r"\w+", (hypothesis or "").lower())
    d = list(range(len(h) + 1))
    for i, a in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, b in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (a != b))
    return d[len(h)] / max(1, len(r))


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def load_queries(paths: Iterable[str | Path]) -> list[dict]:
    """Query lines from .jsonl files or folders of them; media paths made absolute. A line that is not a
    query (not JSON, not an object, no qid) comes back as {"qid", "invalid": why}, qid "<file>:<line>"
    when it has none, so a search run answers it with an error and carries on."""
    out = []
    for p in paths:
        p = Path(p)
        files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        for f in files:
            for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                where = f"{f.name}:{n}"
                try:
                    q = json.loads(line)
                except json.JSONDecodeError as e:
                    out.append({"qid": where, "invalid": f"line {n} is not valid JSON ({e.msg})"})
                    continue
                if not isinstance(q, dict):
                    out.append({"qid": where, "invalid": f"line {n} is not a JSON object"})
                    continue
                if q.get("qid") in (None, "") or isinstance(q["qid"], (bool, list, dict)):
                    out.append({"qid": where, "invalid": f"line {n} has no qid"})
                    continue
                for key in ("image", "audio"):
                    if q.get(key) and isinstance(q[key], str):
                        q[key] = str((f.parent / q[key]).resolve())
                out.append(q)
    return out


def matching(products: dict[str, Product], allowed: dict[str, list[str]]) -> dict[str, int]:
    """Grade 2 for every product whose listed fields all have an allowed value (a query with `match`)."""
    return {i: 2 for i, p in products.items() if all(getattr(p, f, None) in ok for f, ok in allowed.items())}


def score(queries: list[dict], results: dict[str, dict], products: dict[str, Product]) -> dict[str, dict[str, float]]:
    """Per query kind: nDCG@10 and P@10 for all; match@1 where a query grades by `match`; R@1, R@10, MRR and
    similar@10 where it names a `target`; compliance where it has a price cap; WER where it was `spoken`."""
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in queries:
        if "invalid" in q:  # not a query: nothing to score
            continue
        m = rows[q["kind"]]
        r = results.get(q["qid"])
        ranked = [str(x) for x in (r or {}).get("results", [])]
        if r is None:
            m["missing"].append(1)
        rel = matching(products, q["match"]) if "match" in q else q["relevant"]
        top = ranked[:10]
        gains = [(2 ** rel.get(x, 0) - 1) for x in top]
        ideal = sorted((2 ** g - 1 for g in rel.values()), reverse=True)[:10]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        m["ndcg@10"].append(dcg / idcg if idcg else 0)
        m["p@10"].append(sum(1 for x in top if rel.get(x, 0) == 2) / 10)
        if "match" in q:
            m["match@1"].append(1.0 if top and rel.get(top[0]) == 2 else 0.0)
        if "target" in q:
            exact = {k for k, v in rel.items() if v == 2}
            ranks = [i for i, x in enumerate(ranked) if x in exact]
            m["r@1"].append(1.0 if ranks and ranks[0] < 1 else 0.0)
            m["r@10"].append(1.0 if ranks and ranks[0] < 10 else 0.0)
            m["mrr"].append(1 / (ranks[0] + 1) if ranks else 0.0)
            m["similar@10"].append(sum(1 for x in top if rel.get(x, 0) >= 1) / 10)
        if "must" in q and "max_price" in q["must"]:
            cap = q["must"]["max_price"]
            price = {x: products[x].effective_price if x in products else None for x in top}
            m["compliance"].append(sum(1 for x in top if price[x] is not None and price[x] <= cap) / max(1, len(top)))
        if "spoken" in q and r is not None:
            m["wer"].append(wer(q["spoken"], r.get("transcript")))
        if r is not None and r.get("latency_ms") is not None:
            m["_lat"].append(r["latency_ms"])
    summary: dict[str, dict[str, float]] = {}
    for kind in sorted(rows):
        m = rows[kind]
        s = {k: sum(v) / len(v) for k, v in m.items() if v and not k.startswith("_") and k != "missing"}
        s["n"] = len(m["ndcg@10"])
        s["missing"] = len(m["missing"])
        if m["_lat"]:
            s["lat_p50"], s["lat_p95"] = percentile(m["_lat"], 0.5), percentile(m["_lat"], 0.95)
        summary[kind] = s
    return summary


def photo_report(queries: list[dict], results: dict[str, dict], products: dict[str, Product]) -> dict[str, dict[str, float]]:
    """How truthfully the assistant says what a photo shows, per query kind with a photo alone: the share of
    photos whose type / colour / gender it named right (the target's; for `match` queries, an allowed type),
    the share it named a type for at all, the share it claimed "the same product" for, and how often such a
    claim was right (the first product claimed is the target or its twin)."""
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in queries:
        r = results.get(q.get("qid", ""))
        if "invalid" in q or not q.get("image") or q.get("text") or r is None or "photo" not in r:
            continue
        m, said, claims = rows[q["kind"]], r["photo"], r.get("same_product") or []
        target = products.get(q.get("target", ""))
        if target is not None:
            for f, column in zip(PHOTO_FIELDS, PHOTO_COLUMNS, strict=False):
                m[column].append(float(said.get(f) == getattr(target, f)))
        elif "match" in q:
            m["type"].append(float(said.get("article_type") in q["match"].get("article_type", ())))
        m["said"].append(float(said.get("article_type") is not None))
        m["claimed"].append(float(bool(claims)))
        if claims:
            m["claim_right"].append(float(q.get("relevant", {}).get(claims[0], 0) == 2 or claims[0] == q.get("target")))
    return {kind: {"n": len(m["said"]), **{k: sum(v) / len(v) for k, v in m.items() if v}} for kind, m in sorted(rows.items())}


def photo_table(report: dict[str, dict[str, float]]) -> str:
    lines = ["what the photo shows (share right), and 'the same product' claims",
             f"{'kind':10} {'n':>4} " + " ".join(f"{k:>11}" for k in PHOTO_COLUMNS)]
    for kind, s in report.items():
        lines.append(f"{kind:10} {int(s['n']):>4} " + " ".join(f"{s[k]:>11.3f}" if k in s else f"{'-':>11}"
                                                           for k in PHOTO_COLUMNS))
    return "\n".join(lines)


def table(summary: dict[str, dict[str, float]], title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{'kind':10} {'n':>4} " + " ".join(f"{k:>10}" for k in COLUMNS))
    for kind, s in summary.items():
        lines.append(f"{kind:10} {int(s['n']):>4} " + " ".join(f"{s[k]:>10.3f}" if k in s else f"{'-':>10}" for k in COLUMNS))
    return "\n".join(lines)


def run_queries(engine: Engine, queries: list[dict], top_k: int = 50) -> list[dict]:
    """Answer each query through the engine; a query it cannot handle gets an "error", not a crash."""
    out = []
    for q in queries:
        line: dict = {"qid": q["qid"]}
        start = time.perf_counter()
        try:
            if "invalid" in q:
                raise InputError(q["invalid"])
            text = q.get("text")
            if q.get("audio"):
                heard = engine.transcribe(q["audio"])
                line["transcript"] = text = heard.text
                if not heard.text:
                    raise InputError(heard.note)
            result = engine.search(text=text, image=q.get("image"), top_k=top_k)
            line["results"] = result.ids
            if q.get("image"):  # what the assistant says the photo shows, and the products it says it is
                line["photo"] = {f: result.photo_facets.get(f) for f in PHOTO_FIELDS}
                line["same_product"] = result.same_product
            line["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
        except (InputError, IndexUnavailable) as e:
            line.update(results=[], error=str(e), latency_ms=round((time.perf_counter() - start) * 1000, 2))
        out.append(line)
    return out
