"""`make bench-scale`: how the index holds up as the catalog grows — ingest rate, cold start (opening
the store and building `ProductIndex`'s metadata cache), its memory, and warm query latency
(p50/p95) without and with filters, at 10k, 100k and 1M products, for embedded Chroma and a Chroma
server (`chroma run` on loopback).

Everything goes through the app's own `assistant.index.ProductIndex` (`upsert`, `query` with
`Filters`), so the numbers are the app's. The products are synthetic but shaped like the catalog:
each one copies the metadata of a real catalog product drawn at random (gender, category,
article_type, base_colour, brand, usage… with the catalog's joint value distribution; prices
jittered ±20 %) and gets a 256-d joint vector and a 1280-d photo vector clustered around its type,
gender, colour and usage (random centroids plus noise), like the learned spaces are. Each size
grows the previous one's index (10k → 100k → 1M are built once per backend).

Query kinds, as `Engine._retrieve` asks them for a request in words (pool 300):
  none    no filter: `query(v, 300, pool=300)`
  price   a budget ("under 1500 rupees"): `query(v, 300, Filters(max_price), pool=300)`
  facets  the strict follow-up for a request naming gender, type and colour with a budget:
          `query(v, 24, Filters(max_price, gender, article_type, colour), pool=300)`
  ui      a filter chosen in the UI (one gender or category) that the words do not imply:
          `query(v, 300, Filters(gender|category), pool=300)`
Each filtered query is answered from the unfiltered pool when enough of it passes ("pool"); else
`ProductIndex.query` reaches the matching products by how many they are: their vectors fetched and
ranked exactly ("exact", at most EXACT_LIMIT), a wider unfiltered search ("wide", when ~2k/selectivity
is at most OVERFETCH_LIMIT), Chroma searching them named by id ("ids", at most ID_FILTER_LIMIT) or a
`where` clause ("where"); the table says how often each path was taken. `--id-filter-limit` overrides
the app's ID_FILTER_LIMIT (to measure another choice without editing the app).

The warm queries of one size stop after `--query-budget` seconds (a slow path at 1M can take seconds
a query); the table's n says how many ran. `--work DIR` keeps the indexes and a later run with the
same DIR grows them from where they are (the 1M build is done once per backend).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import assistant.index
from assistant.evaluate import percentile
from assistant.index import Filters, ProductIndex

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KINDS = ("none", "price", "facets", "ui")
FILTERED = ("price", "facets", "ui")
POOL = 300  # Settings.candidate_pool: what the engine asks for a request in words
TOP_K = 24  # Settings.top_k
DEFAULT_BUDGETS = (300, 500, 600, 800, 900, 1000, 1400, 1500, 1600, 1900, 2000, 3000)


def default_catalog() -> Path:
    return Path(os.environ.get("CATALOG_DIR") or SHARED / "datasets" / "fashion")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (MB), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------------------------------------------
# synthetic catalog
# ---------------------------------------------------------------------------------------------------
class Synth:
    """Products and requests shaped like the real catalog (see the module docstring). Deterministic:
    product i is the same whichever batch makes it."""

    FACETS = ("article_type", "gender", "base_colour", "usage")
    WEIGHTS = (1.0, 0.6, 0.6, 0.3)  # how much each facet's centroid shapes a vector
    NOISE = 0.7

    def __init__(self, catalog: Path, dim: int = 256, photo_dim: int = 1280, seed: int = 0,
                 budgets: tuple[float, ...] = DEFAULT_BUDGETS) -> None:
        from assistant.catalog import read_catalog

        self.rows = [p.metadata() for p in read_catalog(catalog).products]
        if not self.rows:
            raise SystemExit(f"no products in {catalog}")
        self.seed, self.budgets = seed, budgets
        rng = np.random.default_rng(seed)
        self.codes = {f: {v: n for n, v in enumerate(sorted({str(r[f]) for r in self.rows}))} for f in self.FACETS}
        self.row_codes = np.array([[self.codes[f][str(r[f])] for f in self.FACETS] for r in self.rows], np.int64)
        self.centroids = {d: [rng.standard_normal((len(self.codes[f]), d)).astype(np.float32) / np.sqrt(d)
                              for f in self.FACETS] for d in {dim, photo_dim}}
        self.dim, self.photo_dim = dim, photo_dim

    def _vectors(self, picks: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
        codes = self.row_codes[picks]
        v = self.NOISE * rng.standard_normal((len(picks), dim)).astype(np.float32) / np.sqrt(dim)
        for n, w in enumerate(self.WEIGHTS):
            v += w * self.centroids[dim][n][codes[:, n]]
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def batch(self, start: int, stop: int) -> tuple[list[str], np.ndarray, np.ndarray, list[dict]]:
        """Products start..stop-1: ids, joint vectors, photo vectors, metadata (as ingest stores it)."""
        rng = np.random.default_rng([self.seed, start])
        n = stop - start
        picks = rng.integers(len(self.rows), size=n)
        jitter = rng.uniform(0.8, 1.2, size=n)
        ids = [f"s{i:07d}" for i in range(start, stop)]
        metas = []
        for i, p, j in zip(ids, picks, jitter, strict=True):
            m = dict(self.rows[p])
            for key in ("price", "sale_price"):
                if m[key] >= 0:
                    m[key] = float(round(m[key] * j))
            m["hash"] = f"{rng.integers(1 << 62):016x}" * 3  # ingest stores a 48-hex content hash
            m["image"] = f"images/{i}.jpg"
            metas.append(m)
        return ids, self._vectors(picks, self.dim, rng), self._vectors(picks, self.photo_dim, rng), metas

    def requests(self, n: int, seed: int) -> Iterator[tuple[str, np.ndarray, Filters]]:
        """n requests per kind, interleaved: (kind, query vector, filters)."""
        rng = np.random.default_rng([self.seed, seed, 1])
        genders = sorted({str(r["gender"]) for r in self.rows if r["gender"]})
        categories = sorted({str(r["category"]) for r in self.rows if r["category"]})
        for _ in range(n):
            picks = rng.integers(len(self.rows), size=len(KINDS))
            vecs = self._vectors(picks, self.dim, rng)
            for kind, p, v in zip(KINDS, picks, vecs, strict=True):
                row = self.rows[p]
                budget = float(rng.choice(self.budgets))
                if kind == "none":
                    f = Filters()
                elif kind == "price":
                    f = Filters(max_price=budget)
                elif kind == "facets":
                    f = Filters(max_price=max(budget, float(row["sale_price"])), gender=(str(row["gender"]),),
                                article_type=(str(row["article_type"]),), colour=(str(row["base_colour"]),))
                elif rng.random() < 0.5:
                    f = Filters(gender=(str(rng.choice(genders)),))
                else:
                    f = Filters(category=(str(rng.choice(categories)),))
                yield kind, v, f


def dev_budgets(path: Path) -> tuple[float, ...]:
    """The budgets the dev filter requests name (their distribution), else round numbers."""
    try:
        found = [float(json.loads(line)["must"]["max_price"]) for line in path.read_text().splitlines()
                 if '"max_price"' in line]
    except (OSError, KeyError, ValueError):
        found = []
    return tuple(found) or DEFAULT_BUDGETS


# ---------------------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------------------
class ChromaServer:
    """`chroma run` on a loopback port (a free one unless given), its data in `path`, its log beside it;
    it can be stopped and started again on the same port (the fault tests do)."""

    def __init__(self, path: Path, port: int = 0) -> None:
        from bench.app import free_port

        self.path, self.host, self.port = path, "127.0.0.1", port or free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> ChromaServer:
        """Start the server and return once it answers its heartbeat."""
        self.path.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma") or "chroma"
        self.log = (self.path.parent / f"chroma-{self.port}.log").open("ab")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.proc = subprocess.Popen([exe, "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Chroma server did not start (see {self.log.name})")
            time.sleep(0.2)
        return self

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/api/v2/heartbeat", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def rss(self) -> float:
        return rss_mb(self.proc.pid) if self.proc is not None else float("nan")

    def stop(self) -> None:
        """Stop the server (a no-op when it is not running)."""
        from bench.app import stop_process

        if self.proc is not None:
            stop_process(self.proc, grace=30)
            self.proc = None
            self.log.close()


def instrument(index: ProductIndex) -> list[str]:
    """Record which path each search of `index` takes (pool / exact / wide / ids / where)."""
    calls: list[str] = []
    nearest, exact = index._nearest, index._exact

    def recorded(vector: np.ndarray, n: int, where: dict | None, photos: bool, ids: list[str] | None = None):
        calls.append("ids" if ids is not None else "where" if where is not None else "wide" if calls else "pool")
        return nearest(vector, n, where, photos, ids)

    def recorded_exact(vector: np.ndarray, k: int, ids: list[str], photos: bool):
        calls.append("exact")
        return exact(vector, k, ids, photos)

    index._nearest = recorded  # type: ignore[method-assign]
    index._exact = recorded_exact  # type: ignore[method-assign]
    return calls


# ---------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------
@dataclass
class Row:
    backend: str
    size: int
    ingest_s: float = 0.0
    ingested: int = 0  # products added for this size (0: the index was already this big)
    cold: dict = field(default_factory=dict)
    lat: dict[str, list[float]] = field(default_factory=dict)
    paths: dict[str, Counter] = field(default_factory=dict)
    server_mb: float = float("nan")

    @property
    def rate(self) -> float:
        return self.ingested / self.ingest_s if self.ingest_s else float("nan")


def grow(index: ProductIndex, synth: Synth, start: int, stop: int, batch: int, label: str) -> float:
    """Upsert products start..stop-1 in `batch`-sized calls (as ingest does); seconds taken."""
    t0 = last = time.perf_counter()
    for s in range(start, stop, batch):
        ids, joint, photos, metas = synth.batch(s, min(stop, s + batch))
        index.upsert(ids, joint, photos, metas)
        now = time.perf_counter()
        if now - last > 30:
            done = min(stop, s + batch) - start
            rate = done / (now - t0)
            print(f"  [{label}] {start + done:,}/{stop:,} products, {rate:,.0f}/s, "
                  f"~{(stop - start - done) / rate / 60:.1f} min left", file=sys.stderr, flush=True)
            last = now
    return time.perf_counter() - t0


def warm_queries(index: ProductIndex, synth: Synth, n: int, seed: int,
                 budget: float = float("inf")) -> tuple[dict[str, list[float]], dict[str, Counter]]:
    """Up to n timed queries of each kind (interleaved), stopping after `budget` seconds."""
    calls = instrument(index)
    for _kind, v, f in synth.requests(3, seed + 1000):  # warm-up: caches, HNSW pages
        index.query(v, POOL if _kind != "facets" else TOP_K, f, pool=POOL)
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    paths: dict[str, Counter] = {k: Counter() for k in KINDS}
    end = time.monotonic() + budget
    for kind, v, f in synth.requests(n, seed):
        if kind == KINDS[0] and time.monotonic() > end:
            break
        calls.clear()
        t = time.perf_counter()
        index.query(v, TOP_K if kind == "facets" else POOL, f, pool=POOL)
        lat[kind].append((time.perf_counter() - t) * 1000)
        paths[kind][calls[-1] if calls else "pool"] += 1
    return lat, paths


def cold_start(store: str, catalog: Path, id_filter_limit: int) -> dict:
    """Open the store in a fresh process (as the app does when it starts) and time what the first
    searches cost: opening, reading every product's metadata into the cache, the columnar copy
    filters use, the first unfiltered and the first filtered query; plus that process's memory."""
    cmd = [sys.executable, "-m", "bench.scale", "--cold-start", store, "--catalog", str(catalog),
           "--id-filter-limit", str(id_filter_limit)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False"})
    if out.returncode != 0:
        raise RuntimeError(f"cold start measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_start_child(store: str, catalog: Path) -> None:
    rss0 = rss_mb()
    t0 = time.perf_counter()
    if store.startswith("http://"):
        host, port = store.removeprefix("http://").rsplit(":", 1)
        index = ProductIndex(host=host, port=int(port))
    else:
        index = ProductIndex(path=store)
    index.count()
    t_open = time.perf_counter()
    rss1 = rss_mb()
    meta = index.metadata()
    t_meta = time.perf_counter()
    index.columns()
    t_cols = time.perf_counter()
    rss2 = rss_mb()
    synth = Synth(catalog)
    reqs = {kind: (v, f) for kind, v, f in synth.requests(1, 7)}
    t = time.perf_counter()
    index.query(reqs["none"][0], POOL, pool=POOL)
    t_first = time.perf_counter()
    index.query(reqs["facets"][0], TOP_K, reqs["facets"][1], pool=POOL)
    t_filtered = time.perf_counter()
    print(json.dumps({"products": len(meta), "open_s": t_open - t0, "meta_s": t_meta - t_open,
                      "columns_s": t_cols - t_meta, "first_query_ms": (t_first - t) * 1000,
                      "first_filtered_ms": (t_filtered - t_first) * 1000, "cold_s": t_filtered - t0 - (t - t_cols),
                      "cache_mb": rss2 - rss1, "process_mb": rss_mb(), "base_mb": rss0}))


def run_backend(backend: str, sizes: list[int], synth: Synth, work: Path, args: argparse.Namespace,
                report: Callable[[Row], None]) -> None:
    """Grow one backend's index through `sizes`, measuring at each; `report` gets each size's row."""
    server = None
    path = work / backend
    try:
        if backend == "server":
            server = ChromaServer(path).start()
            index = ProductIndex(host=server.host, port=server.port)
            store = f"http://{server.host}:{server.port}"
        else:
            index = ProductIndex(path=path)
            store = str(path)
        have = index.count()  # a kept index (--work) grows from where it is
        if have:
            print(f"  {backend}: reusing {have:,} products in {path}", file=sys.stderr, flush=True)
        for size in sizes:
            if size < have:
                print(f"  {backend}: skipping {size:,} (the index already holds {have:,})", file=sys.stderr)
                continue
            row = Row(backend, size)
            row.ingest_s = grow(index, synth, have, size, args.batch, f"{backend} {size:,}")
            row.ingested, have = size - have, size
            row.cold = cold_start(store, args.catalog, args.id_filter_limit)
            row.lat, row.paths = warm_queries(index, synth, args.queries, size, args.query_budget)
            if server is not None:
                row.server_mb = server.rss()
            report(row)
    finally:
        if server is not None:
            server.stop()


# ---------------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------------
def _p(xs: list[float]) -> str:
    return f"{percentile(xs, 0.5):7.1f} {percentile(xs, 0.95):7.1f}" if xs else f"{'-':>7} {'-':>7}"


def print_rows(rows: list[Row]) -> None:
    print("\ningest and cold start (cold = a fresh process opens the store, caches every product's metadata "
          "and runs its first queries)")
    print(f"{'backend':<9} {'products':>9} {'ingest/s':>9} {'cold s':>7} {'meta s':>7} {'1st q ms':>8} "
          f"{'cache MB':>8} {'app MB':>7} {'server MB':>9}")
    for r in rows:
        c = r.cold
        rate = f"{r.rate:>9,.0f}" if r.ingested else f"{'reused':>9}"
        print(f"{r.backend:<9} {r.size:>9,} {rate} {c['cold_s']:>7.1f} {c['meta_s']:>7.1f} "
              f"{c['first_query_ms']:>8.0f} {c['cache_mb']:>8.0f} {c['process_mb']:>7.0f} "
              f"{r.server_mb if r.server_mb == r.server_mb else float('nan'):>9.0f}")
    print(f"\nwarm query latency, ms (p50 p95), and the path filtered queries took "
          f"(pool: the unfiltered pool sufficed; exact: ≤{assistant.index.EXACT_LIMIT:,} matching products ranked "
          f"exactly; wide: a wider unfiltered search; ids: Chroma searched the ≤{assistant.index.ID_FILTER_LIMIT:,} "
          "matching ids; where: a Chroma where clause)")
    print(f"{'backend':<9} {'products':>9} {'n':>4} {'none':>15} {'price':>15} {'facets':>15} {'ui':>15} {'filtered':>15}  "
          f"{'paths price | facets | ui'}")
    for r in rows:
        filtered = [x for k in FILTERED for x in r.lat.get(k, [])]
        paths = " | ".join(" ".join(f"{p}:{n}" for p, n in sorted(r.paths[k].items())) for k in FILTERED)
        cells = " ".join(_p(r.lat[k]) for k in KINDS)
        print(f"{r.backend:<9} {r.size:>9,} {len(r.lat['none']):>4} {cells} {_p(filtered)}  {paths}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="catalog sizes, comma-separated (grown in order)")
    ap.add_argument("--backends", default="embedded,server", help="embedded, server or both")
    ap.add_argument("--queries", type=int, default=200, help="timed queries per kind and size")
    ap.add_argument("--query-budget", type=float, default=300, help="seconds of timed queries per size at most")
    ap.add_argument("--id-filter-limit", type=int, default=assistant.index.ID_FILTER_LIMIT,
                    help="most matching products named by id (the app's ID_FILTER_LIMIT); more use `where`")
    ap.add_argument("--batch", type=int, default=256, help="products per upsert call (ingest's chunk)")
    ap.add_argument("--dim", type=int, default=256, help="joint-space dimensions")
    ap.add_argument("--photo-dim", type=int, default=1280, help="photo feature dimensions (EfficientNet-Lite2)")
    ap.add_argument("--catalog", type=Path, default=default_catalog(), help="the catalog whose value distributions to copy")
    ap.add_argument("--dev-filters", type=Path, default=SHARED / "eval" / "fashion-dev" / "filter.jsonl",
                    help="dev filter requests whose budgets to copy")
    ap.add_argument("--work", type=Path, default=None,
                    help="where the indexes go, kept and grown by later runs (default: a temporary folder, removed)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--target-ms", type=float, default=100.0,
                    help="filtered p95 target at 100k embedded (reported; 0 = do not check)")
    ap.add_argument("--report", type=Path, nargs="+", default=None,
                    help="print the tables of rows saved by earlier runs (--json files) and exit")
    ap.add_argument("--cold-start", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.report:
        print_rows([Row(**{**d, "paths": {k: Counter(v) for k, v in d["paths"].items()}})
                    for f in args.report for d in json.loads(f.read_text())])
        return 0
    assistant.index.ID_FILTER_LIMIT = args.id_filter_limit  # read by ProductIndex.query at each call
    if args.cold_start:
        _cold_start_child(args.cold_start, args.catalog)
        return 0
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if bad := set(backends) - {"embedded", "server"}:
        ap.error(f"unknown backend(s): {', '.join(sorted(bad))}")
    synth = Synth(args.catalog, args.dim, args.photo_dim, budgets=dev_budgets(args.dev_filters))
    print(f"synthetic products like {len(synth.rows):,} catalog products ({args.dim}-d joint, {args.photo_dim}-d photo "
          f"vectors); sizes {', '.join(f'{s:,}' for s in sizes)}; backends {', '.join(backends)}; "
          f"{args.queries} queries per kind", flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []

    def report(row: Row) -> None:
        rows.append(row)
        print(f"  {row.backend} {row.size:,}: ingest {row.rate:,.0f}/s ({row.ingest_s:.0f}s), cold start "
              f"{row.cold['cold_s']:.1f}s, filtered p95 "
              f"{percentile([x for k in FILTERED for x in row.lat[k]], 0.95):.1f} ms", flush=True)
        if args.json:
            args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))

    try:
        for backend in backends:
            run_backend(backend, sizes, synth, work, args, report)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print_rows(rows)
    print(f"\nmachine load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    target = next((r for r in rows if r.backend == "embedded" and r.size == 100_000), None)
    if target is not None and args.target_ms:
        p95 = percentile([x for k in FILTERED for x in target.lat[k]], 0.95)
        print(f"\nfiltered p95 at 100k embedded: {p95:.1f} ms (target ≤ {args.target_ms:.0f} ms): "
              f"{'met' if p95 <= args.target_ms else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
