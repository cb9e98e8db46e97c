"""`make load`: many shoppers at once. Starts `python app.py` (`bench.app.App`, as `make bench` does) or
uses a running one (`--url`, with `--pid` for its memory), then runs `--shoppers` simulated shoppers
(threads, each with its own gradio_client `Client`) for `--duration` seconds. Each shopper sends a
request, waits for the answer, pauses for a think time (exponential, mean `--think` s) and sends
the next: requests in words (the dev text, Chinese, filter and natural-language queries) through
/search_text, photos (the dev shopper photos, and photo + change requests) through /search_image,
and voice clips (the dev recordings, clean and from noisy rooms) through /search_voice, mixed by `--mix`. Each upload goes under a
name of its own, as real shoppers' files do (`own_copy`).

Reported: requests and failed requests per kind, p50/p95/max latency per kind (requests started after
the warm-up), throughput, and the app process's resident memory sampled every second from /proc
(at the end of the warm-up vs at the end: it should stay flat). Exits 1 when a request failed or the
p95 of requests in words is over `--text-p95-ms`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.evaluate import percentile
from bench.app import App, wait_ready

ROOT = Path(__file__).resolve().parent.parent
DEV = Path(os.environ.get("DEV_QUERIES") or ROOT.parent / "shared" / "eval" / "fashion-dev")
KINDS = ("text", "photo", "voice")


@dataclass(frozen=True)
class Request:
    kind: str  # text / photo / voice
    text: str = ""
    file: str = ""


@dataclass(frozen=True)
class Result:
    kind: str
    started: float  # seconds since the load began
    ms: float
    error: str = ""
    products: int = 0


def dev_requests(folder: Path) -> dict[str, list[Request]]:
    """The dev queries as requests, by kind."""
    out: dict[str, list[Request]] = {k: [] for k in KINDS}
    for name in ("text", "zh", "filter", "natural", "photo", "composed", "voice", "voice-noisy"):
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            q = json.loads(line)
            if q.get("audio"):
                out["voice"].append(Request("voice", file=str(folder / q["audio"])))
            elif q.get("image"):
                out["photo"].append(Request("photo", text=q.get("text") or "", file=str(folder / q["image"])))
            elif q.get("text"):
                out["text"].append(Request("text", text=q["text"]))
    return out


def parse_mix(spec: str) -> dict[str, float]:
    """"text=6,photo=3,voice=1" → shares summing to 1."""
    mix: dict[str, float] = {}
    for part in spec.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown request kind {kind!r} (expected {', '.join(KINDS)})")
        mix[kind.strip()] = float(weight or 1)
    total = sum(mix.values())
    if total <= 0:
        raise argparse.ArgumentTypeError("the mix needs a positive weight")
    return {k: w / total for k, w in mix.items() if w > 0}


def call(client: Any, req: Request, top_k: int, timeout: float, upload: str = "") -> dict:
    """One request; `upload` is the file to send for a photo or voice request (default: the dev file)."""
    from gradio_client import handle_file

    if req.kind == "text":
        job = client.submit(query=req.text, min_price=None, max_price=None, top_k=top_k, api_name="/search_text")
    elif req.kind == "photo":
        job = client.submit(image=handle_file(upload or req.file), query=req.text, top_k=top_k, api_name="/search_image")
    else:
        job = client.submit(audio=handle_file(upload or req.file), top_k=top_k, api_name="/search_voice")
    return job.result(timeout=timeout)


def own_copy(req: Request, folder: Path, tag: str) -> str:
    """The request's file under a name of its own (a hard link when possible): gradio keeps an upload at
    <upload folder>/<hash of its bytes>/<its name>, so two shoppers sending the very same file under the
    very same name at the same moment would share one upload, which the app deletes after the first
    search (see --same-names). Real shoppers' photos and recordings are their own files."""
    dest = folder / f"{tag}-{Path(req.file).name}"
    try:
        os.link(req.file, dest)
    except OSError:
        shutil.copyfile(req.file, dest)
    return str(dest)


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and its descendants, from /proc."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) a process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class MemorySampler(threading.Thread):
    """Samples a process's RSS every `every` seconds: [(seconds since start, MB)], and the CPU time it
    and this process (the shoppers' clients) have used: [(seconds since start, app CPU s, own CPU s)]."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self.cpu: list[tuple[float, float, float]] = []
        self.t0 = time.monotonic()
        self.done = threading.Event()

    def sample(self) -> None:
        t = time.monotonic() - self.t0
        self.samples.append((t, rss_mb(self.pid)))
        self.cpu.append((t, cpu_seconds(self.pid), time.process_time()))

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every)

    def stop(self) -> list[tuple[float, float]]:
        self.done.set()
        self.join(5)
        self.sample()
        return self.samples


def shopper(n: int, url: str, requests: dict[str, list[Request]], mix: dict[str, float], args: argparse.Namespace,
            start: threading.Barrier, t0: list[float], results: list[Result], lock: threading.Lock) -> None:
    from gradio_client import Client

    rng = random.Random(args.seed * 1000 + n)
    kinds, weights = list(mix), list(mix.values())
    try:
        client: Any = Client(url, verbose=False)
    except Exception:  # counted as a failed request below
        client = None
    start.wait()  # everyone starts together
    end = t0[0] + args.duration
    first = kinds[n % len(kinds)]  # shopper n starts with kind n: every kind is exercised, even in a short run
    folder = Path(tempfile.mkdtemp(prefix=f"load-shopper{n}-"))
    sent = 0
    time.sleep(rng.uniform(0, args.think))  # shoppers arrive spread over one think time, not all at once
    while time.monotonic() < end:
        req = rng.choice(requests[first or rng.choices(kinds, weights)[0]])
        first, sent = "", sent + 1
        upload = own_copy(req, folder, f"s{n}r{sent}") if req.file and not args.same_names else ""
        began = time.monotonic()
        error, products = "", 0
        try:
            if client is None:
                raise ConnectionError("could not connect")
            out = call(client, req, args.top_k, args.request_timeout, upload)
            products = len(out.get("products") or [])
            if not products:
                error = "no products"
        except Exception as e:  # a failed request, whatever the reason: counted and reported
            error = f"{type(e).__name__}: {str(e)[:160]}"
        ms = (time.monotonic() - began) * 1000
        if upload:
            Path(upload).unlink(missing_ok=True)
        with lock:
            results.append(Result(req.kind, began - t0[0], ms, error, products))
        if args.think > 0:
            time.sleep(min(rng.expovariate(1 / args.think), max(0.0, end - time.monotonic())))
    shutil.rmtree(folder, ignore_errors=True)


def run(url: str, pid: int | None, args: argparse.Namespace) -> tuple[list[Result], MemorySampler | None, float]:
    requests = dev_requests(args.queries)
    mix = {k: w for k, w in args.mix.items() if requests.get(k)}
    if not mix:
        raise SystemExit(f"no dev queries for {', '.join(args.mix)} under {args.queries}")
    results: list[Result] = []
    lock = threading.Lock()
    t0 = [0.0]
    start = threading.Barrier(args.shoppers + 1, action=lambda: t0.__setitem__(0, time.monotonic()))  # the clock
    threads = [threading.Thread(target=shopper, args=(n, url, requests, mix, args, start, t0, results, lock), daemon=True)
               for n in range(args.shoppers)]
    for t in threads:
        t.start()
    sampler = MemorySampler(pid, args.sample_every) if pid else None
    start.wait()  # all clients connected: the clock starts now
    if sampler:
        sampler.t0 = t0[0]
        sampler.start()
    for t in threads:
        t.join(args.duration + args.request_timeout + 30)
    elapsed = time.monotonic() - t0[0]
    if sampler:
        sampler.stop()
    return results, sampler, elapsed


def _at(samples: list[tuple[float, float]], t: float) -> float:
    """The last sample taken at or before t."""
    before = [mb for s, mb in samples if s <= t]
    return before[-1] if before else samples[0][1]


def report(results: list[Result], sampler: MemorySampler | None, elapsed: float, args: argparse.Namespace,
           header: str, out: Callable[[str], None] = print) -> bool:
    """Print the report; True when it passed (no failed request, text p95 within the limit)."""
    timed = [r for r in results if r.started >= args.warmup]
    failed = [r for r in results if r.error]
    out(header)
    out(f"{'kind':<7} {'requests':>8} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>7}")
    window = max(1e-9, elapsed - args.warmup)
    text_p95 = float("nan")
    for kind in (*KINDS, "all"):
        mine = [r for r in results if kind in ("all", r.kind)]
        if not mine:
            continue
        ms = [r.ms for r in timed if kind in ("all", r.kind) and not r.error]
        fails = sum(1 for r in mine if r.error)
        n_timed = sum(1 for r in timed if kind in ("all", r.kind))
        p95 = percentile(ms, 0.95)
        if kind == "text":
            text_p95 = p95
        out(f"{kind:<7} {len(mine):>8} {fails:>7} {percentile(ms, 0.5):>8.0f} {p95:>8.0f} "
            f"{max(ms, default=float('nan')):>8.0f} {n_timed / window:>7.2f}")
    out(f"throughput: {len(timed) / window:.2f} requests/s after the {args.warmup:.0f}s warm-up "
        f"({len(results) / max(elapsed, 1e-9):.2f}/s over the whole {elapsed:.0f}s); "
        f"failed requests: {len(failed)}")
    if failed:
        kinds: dict[str, int] = {}
        for r in failed:
            kinds[f"{r.kind}: {r.error}"] = kinds.get(f"{r.kind}: {r.error}", 0) + 1
        for what, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]:
            out(f"  {n} × {what}")
    if sampler and sampler.samples:
        samples = sampler.samples
        start_mb, warm_mb, end_mb = samples[0][1], _at(samples, args.warmup), samples[-1][1]
        peak = max(mb for _, mb in samples)
        after = [mb for s, mb in samples if s >= args.warmup]
        growth = end_mb - warm_mb
        late = end_mb - _at(samples, (args.warmup + samples[-1][0]) / 2)
        flat = abs(growth) <= max(0.05 * warm_mb, 25)
        out(f"app memory (RSS MB, sampled every {args.sample_every:g}s): start {start_mb:.0f}, warm-up end "
            f"{warm_mb:.0f}, end {end_mb:.0f}, peak {peak:.0f}, range after warm-up {min(after, default=warm_mb):.0f}–"
            f"{max(after, default=warm_mb):.0f}; growth after warm-up {growth:+.0f} MB ({growth / warm_mb:+.1%}), "
            f"over its second half {late:+.0f} MB: {'flat' if flat else 'GROWING'}")
        step = max(1, len(samples) // 12)
        out("RSS over time: " + ", ".join(f"{s:.0f}s {mb:.0f}" for s, mb in samples[::step]))
        warm = next((c for c in sampler.cpu if c[0] >= args.warmup), sampler.cpu[0])
        end_t, app_cpu, own_cpu = sampler.cpu[-1]
        span = max(1e-9, end_t - warm[0])
        out(f"CPU after warm-up: the app {(app_cpu - warm[1]) / span:.2f} cores "
            f"({(app_cpu - warm[1]) / max(1, len(timed)) * 1000:.0f} ms per request), the shoppers' clients "
            f"{(own_cpu - warm[2]) / span:.2f} cores, on a {os.cpu_count()}-core machine")
    ok = not failed and not text_p95 > args.text_p95_ms
    verdict = [f"{len(failed)} failed request(s)"] if failed else []
    if text_p95 > args.text_p95_ms:
        verdict.append(f"text p95 {text_p95:.0f} ms > {args.text_p95_ms:.0f} ms")
    out(f"machine load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores")
    out("PASS" if ok else "FAIL: " + "; ".join(verdict))
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shoppers", type=int, default=20, help="simulated shoppers at once")
    ap.add_argument("--duration", type=float, default=120, help="seconds of load")
    ap.add_argument("--warmup", type=float, default=30, help="first seconds left out of latency percentiles "
                                                            "and the memory baseline")
    ap.add_argument("--think", type=float, default=5.0,
                    help="mean pause between a shopper's requests (s; 0 = none): reading the cards, typing the next one")
    ap.add_argument("--mix", type=parse_mix, default=parse_mix("text=6,photo=3,voice=1"),
                    help="share of each request kind, e.g. text=6,photo=3,voice=1")
    ap.add_argument("--queries", type=Path, default=DEV, help="dev query folder (texts, photos, voice clips)")
    ap.add_argument("--top-k", type=int, default=12)
    ap.add_argument("--url", default="", help="a running app (default: start python app.py on a free port)")
    ap.add_argument("--pid", type=int, default=0, help="the running app's process id (for its memory)")
    ap.add_argument("--text-concurrency", default="", help="searches in words at once, for the app started here "
                                                           "(ASSISTANT_TEXT_CONCURRENCY; default: the app's)")
    ap.add_argument("--media-concurrency", default="", help="photo or voice searches at once, for the app started "
                                                            "here (ASSISTANT_MEDIA_CONCURRENCY; default: the app's)")
    ap.add_argument("--text-p95-ms", type=float, default=1000, help="fail when text p95 is above this")
    ap.add_argument("--request-timeout", type=float, default=120, help="a request slower than this counts as failed")
    ap.add_argument("--sample-every", type=float, default=1.0, help="seconds between memory samples")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for the app (a first run trains)")
    ap.add_argument("--same-names", action="store_true",
                    help="send the dev files under their own names (identical uploads from several shoppers collide)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    app = None
    try:
        if args.url:
            url, pid = args.url, args.pid or None
            wait_ready(url, args.timeout)
        else:
            env = {k: v for k, v in (("ASSISTANT_TEXT_CONCURRENCY", args.text_concurrency),
                                     ("ASSISTANT_MEDIA_CONCURRENCY", args.media_concurrency)) if v}
            os.environ.update(env)
            app = App(env=env, name="bench-load")
            app.wait_ready(args.timeout)
            url, pid = app.url, app.pid
        results, sampler, elapsed = run(url, pid, args)
    finally:
        if app is not None:
            app.stop()
    if args.url:
        limit = "the running app's"
    else:
        from assistant.ui import api_concurrency

        limit = ", ".join(f"{name.removeprefix('search_')} {n} (queue {group})" for name, (group, n) in api_concurrency().items())
    mix = ", ".join(f"{k} {w:.0%}" for k, w in args.mix.items())
    header = (f"\nload: {args.shoppers} shoppers for {args.duration:.0f}s (warm-up {args.warmup:.0f}s), think time "
              f"~{args.think:g}s, mix {mix}, top_k {args.top_k}; searches at once: {limit}; {url}")
    return 0 if report(results, sampler, elapsed, args, header) else 1


if __name__ == "__main__":
    sys.exit(main())
