"""`make bench` (second part): the API round trip as a client sees it. Starts `python app.py` on a free
port (DATA_DIR / CATALOG_DIR and the other settings from the environment, as `make run` would), waits
until /search_text returns products (`bench.app.App`), then times warm gradio_client requests in words (p50/p95 ms)
and stops the app."""

from __future__ import annotations

import argparse
import statistics
import time

from assistant.evaluate import percentile
from bench.app import App

# Varied wording (types, colours, genders, prices, a few Chinese requests): no two requests are the same.
REQUESTS = (
    "black heels under 1500 rupees", "men's blue shirts", "white sneakers for women", "a watch for my dad",
    "red kurta for women", "casual shoes for men under 2000", "navy blue t-shirt", "women's handbags",
    "sports shoes for running", "formal black shoes for men", "something to carry my laptop", "pink tops for girls",
    "grey sweatshirt", "brown leather wallet for men", "green shirt for him", "yellow t-shirts for women",
    "silver watch for women", "flip flops for the beach", "purple dress", "jeans for men under 1500 rupees",
    "black backpack", "sunglasses for men", "white formal shirt", "blue jeans for women", "男士白色衬衫",
    "女士黑色手提包", "a gift for my sister, under 1000 rupees", "maroon t-shirt for men", "ethnic wear for women",
    "orange sports t-shirt",
)
WARMUP = ("shirts", "heels for women", "男士手表")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=30, help="timed requests (cycling through varied wordings)")
    ap.add_argument("--top-k", type=int, default=12)
    ap.add_argument("--port", type=int, default=0, help="default: a free port")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for the app (a first run trains)")
    args = ap.parse_args()
    start = time.perf_counter()
    app = App(args.port or None, name="bench-api")
    try:
        client = app.wait_ready(args.timeout)
        ready_s = time.perf_counter() - start
        for q in WARMUP:
            client.predict(query=q, top_k=args.top_k, api_name="/search_text")
        times, empty = [], []
        for i in range(args.requests):
            q = REQUESTS[i % len(REQUESTS)]
            t = time.perf_counter()
            out = client.predict(query=q, min_price=None, max_price=None, top_k=args.top_k, api_name="/search_text")
            times.append((time.perf_counter() - t) * 1000)
            if not out.get("products"):
                empty.append(q)
    finally:
        app.stop()
    print(f"\nAPI round trip (gradio_client → python app.py → /search_text, top_k={args.top_k}); "
          f"app ready after {ready_s:.1f}s")
    print(f"{'requests':>9} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'max ms':>9}")
    print(f"{len(times):>9} {percentile(times, 0.5):>9.1f} {percentile(times, 0.95):>9.1f} "
          f"{statistics.fmean(times):>9.1f} {max(times):>9.1f}")
    if empty:
        print(f"no products for {len(empty)} request(s): {', '.join(empty)}")


if __name__ == "__main__":
    main()
