"""assistant.evaluate scores exactly as the judging script /work/shared/tools/score.py does."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEV, FASHION, SHARED

from assistant.catalog import read_catalog
from assistant.evaluate import load_queries, score, table, wer

SCORE_PY = SHARED / "tools" / "score.py"


def synthetic_results(queries: list[dict], rows: list[dict], seed: int = 0) -> list[dict]:
    """Plausible result lines of every kind: relevant (or matching) and random ids mixed, duplicates, short
    lists, a few queries left out, transcripts for spoken ones, latencies missing here and there."""
    rng = random.Random(seed)
    ids = [r["id"] for r in rows]
    out = []
    for q in queries:
        if rng.random() < 0.05:
            continue  # missing
        rel = list(q["relevant"]) if "relevant" in q else [
            r["id"] for r in rows if all(r.get(f) in ok for f, ok in q["match"].items())]
        pool = rng.sample(rel, min(len(rel), rng.randint(0, 12))) + rng.sample(ids, 30)
        rng.shuffle(pool)
        line: dict = {"qid": q["qid"], "results": pool[: rng.choice([0, 3, 10, 50])]}
        if rng.random() < 0.9:
            line["latency_ms"] = round(rng.uniform(5, 900), 2)
        if "spoken" in q:
            words = q["spoken"].split()
            line["transcript"] = " ".join(w for w in words if rng.random() < 0.85) if rng.random() < 0.9 else ""
        out.append(line)
    return out


def run_score_py(query_dir: Path, results: Path, catalogs: list[Path], tmp_path: Path) -> tuple[dict, str]:
    out = tmp_path / "score.json"
    proc = subprocess.run([sys.executable, str(SCORE_PY), str(query_dir), str(results), *map(str, catalogs),
                           "--json", str(out)], capture_output=True, text=True, check=True)
    return json.loads(out.read_text()), proc.stdout


def ours(query_dir: Path, results: Path, catalogs: list[Path]) -> dict:
    products = {p.id: p for c in catalogs for p in read_catalog(c).products}
    lines = {}
    for raw in results.read_text().splitlines():
        if raw.strip():
            r = json.loads(raw)
            lines[r["qid"]] = r
    return score(load_queries([query_dir]), lines, products)


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for kind in a:
        assert a[kind].keys() == b[kind].keys(), kind
        for k, v in a[kind].items():
            w = b[kind][k]
            assert (math.isnan(v) and math.isnan(w)) or v == w, (kind, k, v, w)


@pytest.mark.parametrize("seed", [0, 1])
def test_same_numbers_as_score_py_on_the_dev_queries(tmp_path: Path, seed: int) -> None:
    queries = load_queries([DEV])
    rows = [json.loads(line) for line in (FASHION / "products.jsonl").read_text().splitlines()]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in synthetic_results(queries, rows, seed)))
    theirs, printed = run_score_py(DEV, results, [FASHION], tmp_path)
    summary = ours(DEV, results, [FASHION])
    same(summary, theirs)
    assert {"text", "zh", "natural", "photo", "composed", "filter", "voice", "shopper", "realphoto", "composed-shopper",
            "voice-noisy"} <= set(summary)
    assert {"match@1", "p@10"} <= set(summary["realphoto"]) and {"r@1", "similar@10"} <= set(summary["shopper"])
    assert "wer" in summary["voice-noisy"]
    assert table(summary).strip() == printed.strip()  # the printed table is the same too


def test_same_numbers_on_a_small_hand_made_set(tmp_path: Path) -> None:
    """Edge cases: nothing relevant returned, everything returned, a query answered twice (the last line wins),
    prices unknown, a filter query whose results are all over budget."""
    qdir = tmp_path / "queries"
    qdir.mkdir()
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "price": 100, "sale_price": 80, "article_type": "Tshirts"}, {"id": "b", "price": 300},
        {"id": "c", "article_type": "Shirts"}, {"id": "d", "price": 2000, "sale_price": 1500, "article_type": "Tops"}]))
    queries = [
        {"qid": "t1", "kind": "text", "text": "x", "relevant": {"a": 2, "b": 1}},
        {"qid": "t2", "kind": "text", "text": "y", "relevant": {"c": 2}},
        {"qid": "p1", "kind": "photo", "image": "none.jpg", "target": "d", "relevant": {"d": 2, "a": 1}},
        {"qid": "f1", "kind": "filter", "text": "under 200", "must": {"max_price": 200}, "relevant": {"a": 2}},
        {"qid": "v1", "kind": "voice", "audio": "none.wav", "spoken": "black heels under 1500", "relevant": {"d": 2}},
        {"qid": "r1", "kind": "realphoto", "image": "none.jpg", "match": {"article_type": ["Tshirts", "Tops"]}},
        {"qid": "r2", "kind": "realphoto", "image": "none.jpg", "match": {"article_type": ["Tshirts", "Tops"]}},
        {"qid": "s1", "kind": "shopper", "image": "none.jpg", "target": "c", "relevant": {"c": 2, "b": 1}},
        {"qid": "n1", "kind": "voice-noisy", "audio": "none.wav", "spoken": "a red shirt", "relevant": {"c": 2}},
    ]
    (qdir / "set.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in [
        {"qid": "t1", "results": ["b", "a", "c"], "latency_ms": 10},
        {"qid": "t2", "results": [], "latency_ms": 20},
        {"qid": "p1", "results": ["a", "b", "d"]},
        {"qid": "p1", "results": ["d"], "latency_ms": 5},
        {"qid": "f1", "results": ["d", "c", "b"], "latency_ms": 7},
        {"qid": "v1", "results": ["d"], "transcript": "Black heel, under 1,500!", "latency_ms": 30},
        {"qid": "r1", "results": ["b", "a", "d"], "latency_ms": 3},
        {"qid": "r2", "results": ["d", "c"], "latency_ms": 4},
        {"qid": "s1", "results": ["b", "a", "c"], "latency_ms": 4},
        {"qid": "n1", "results": ["c"], "transcript": "a bed shirt", "latency_ms": 40},
    ]))
    # The shared script reads prices from raw rows; ours from the validated catalog, which needs photos.
    for r in ("a", "b", "c", "d"):
        (cat / f"{r}.jpg").write_bytes(b"")
    rows = [json.loads(line) for line in (cat / "products.jsonl").read_text().splitlines()]
    (cat / "products.jsonl").write_text("".join(json.dumps({**r, "title": r["id"], "image": f"{r['id']}.jpg"}) + "\n"
                                                for r in rows))
    theirs, _ = run_score_py(qdir, results, [cat], tmp_path)
    summary = ours(qdir, results, [cat])
    same(summary, theirs)
    assert summary["photo"]["r@1"] == 1.0 and summary["filter"]["compliance"] == 0.0
    assert summary["realphoto"]["match@1"] == 0.5 and summary["realphoto"]["p@10"] == pytest.approx(0.15)
    assert summary["shopper"]["r@10"] == 1.0 and summary["shopper"]["r@1"] == 0.0 and summary["voice-noisy"]["wer"] == 1 / 3
    assert summary["text"]["n"] == 2 and summary["voice"]["wer"] == pytest.approx(wer("black heels under 1500",
                                                                                      "Black heel, under 1,500!"))


def test_wer() -> None:
    assert wer("black heels under 1500", "Black heels, under 1500.") == 0.0
    assert wer("black heels under 1500", "black heel under 1500") == 0.25
    assert wer("a b", "") == 1.0
    assert wer("", "anything") == 1.0
