"""`make bench`: warm latency per query kind (p50/p95), ingest throughput (cold and re-ingest),
speech model load time, training time on cached features (ingest and training in a process of their
own, as they run), and peak memory with all models loaded."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from assistant.catalog import read_catalog
from assistant.config import Settings
from assistant.engine import Engine
from assistant.evaluate import load_queries, percentile
from assistant.features import FeatureCache
from assistant.index import ProductIndex
from assistant.ingest import ingest
from assistant.speech import load_transcriber
from assistant.train import fit, load_training_data

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def latency(engine: Engine, queries: list[dict], repeats: int = 1) -> dict[str, tuple[float, float, int]]:
    by_kind: dict[str, list[float]] = {}
    for q in queries:  # warm-up pass
        _answer(engine, q)
    for _ in range(repeats):
        for q in queries:
            start = time.perf_counter()
            _answer(engine, q)
            by_kind.setdefault(q["kind"], []).append((time.perf_counter() - start) * 1000)
    return {k: (percentile(v, 0.5), percentile(v, 0.95), len(v)) for k, v in sorted(by_kind.items())}


def _answer(engine: Engine, q: dict) -> None:
    text = q.get("text")
    if q.get("audio"):
        text = engine.transcribe(q["audio"]).text
    engine.search(text=text, image=q.get("image"), top_k=50)


def ingest_rates(settings: Settings, n: int) -> tuple[float, float, int]:
    """Cold (fresh feature cache and index) and unchanged re-ingest rates on the first n products."""
    rows = (Path(settings.catalog_dir) / "products.jsonl").read_text().splitlines()[:n]
    with tempfile.TemporaryDirectory() as tmp:
        cat = Path(tmp) / "catalog"
        cat.mkdir()
        base = Path(settings.catalog_dir).resolve()
        lines = []
        for line in rows:
            row = json.loads(line)
            row["image"] = str(base / row["image"])
            lines.append(json.dumps(row))
        (cat / "products.jsonl").write_text("\n".join(lines) + "\n")
        local = Settings(**{**settings.__dict__, "cache_dir": str(Path(tmp) / "cache"), "index_dir": str(Path(tmp) / "index")})
        from assistant.space import JointSpace

        space = JointSpace.load(settings.model_path)
        index = ProductIndex(local.index_path)
        cold = ingest([cat], space, index, local)
        warm = ingest([cat], space, index, local)
        shutil.rmtree(tmp, ignore_errors=True)
        return cold.rate, warm.rate, cold.total


def build_rates(settings: Settings, n: int) -> tuple[float, float, int, float, int]:
    """Ingest rates on `n` products, then training time on the cached features of the whole catalog."""
    cold, warm, n = ingest_rates(settings, n)
    cache = FeatureCache(settings.cache_path / "features.sqlite")
    data = load_training_data(read_catalog(settings.catalog_dir), settings, cache)
    t = time.perf_counter()
    fit(data, settings)
    return cold, warm, n, time.perf_counter() - t, len(data.products)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", default=str(SHARED / "eval" / "fashion-dev"))
    ap.add_argument("--ingest-products", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    settings = Settings.from_env()
    t = time.perf_counter()
    engine = Engine(settings)
    engine_load = time.perf_counter() - t
    t = time.perf_counter()
    load_transcriber(settings.speech_model, str(settings.cache_path), settings.speech_threads,
                     settings.speech_window_seconds)
    speech_load = time.perf_counter() - t
    queries = load_queries([args.queries])
    lat = latency(engine, queries, args.repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # ingest and training run in a process of their own, as `make ingest` / `make train` and the first-run
    # build do: CTranslate2's OpenMP threads, left behind by the voice queries, would slow PyTorch here
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        cold, warm, n, train_s, trained = pool.submit(build_rates, settings, args.ingest_products).result()
    print(f"\nengine load {engine_load:.1f}s, speech model load {speech_load:.2f}s")
    print(f"{'kind':10} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for kind, (p50, p95, count) in lat.items():
        print(f"{kind:10} {count:>5} {p50:>9.1f} {p95:>9.1f}")
    print(f"ingest cold: {cold:.1f} products/s ({n} products, fresh feature cache); re-ingest unchanged: {warm:.0f} products/s")
    print(f"training the joint space on cached features: {train_s:.1f}s ({trained} products)")
    print(f"peak memory (search, all models loaded): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
