"""The shop in a real browser (Debian Chromium, Playwright), measured: how long the product page takes to open
after a tap (p50 / p95 over every card of a search, at 1400 × 1000 and at 390 × 844), and what a refinement
turn transfers: the markup (bytes of gradio's event stream for that turn) and the product photos downloaded
(bytes over the network; a photo seen before comes from the browser's cache).

    python -m bench.shop [--url http://127.0.0.1:7860]   # without --url: starts `python app.py` (CATALOG_DIR, DATA_DIR)
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

from playwright.sync_api import Page, sync_playwright

from bench.app import App

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
QUERY = "black heels under 1500 rupees"


class Traffic:
    """Bytes received per kind of request, through the DevTools protocol (what crossed the network)."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.urls: dict[str, str] = {}
        self.cached: set[str] = set()
        self.received: dict[str, int] = {}
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        self.cdp.on("Network.dataReceived", self._data)

    def _data(self, e: dict) -> None:
        self.received[e["requestId"]] = self.received.get(e["requestId"], 0) + int(e.get("dataLength", 0))

    def during(self, action: Callable[[], None]) -> dict[str, int]:
        """Bytes of the event stream (markup) and of photos fetched over the network while `action` runs."""
        before = dict(self.received)
        action()
        new = {k: v - before.get(k, 0) for k, v in self.received.items() if v > before.get(k, 0)}
        markup = sum(v for k, v in new.items() if "/queue/data" in self.urls.get(k, ""))
        photos = sum(v for k, v in new.items() if "/shop/photo/" in self.urls.get(k, "") and k not in self.cached)
        return {"markup": markup, "photos": photos}


def turn(page: Page, text: str) -> None:
    n = page.locator('#sa-chat [data-testid="bot"]').count()
    page.locator('#sa-input [data-testid="textbox"]').fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#sa-chat [data-testid=\"bot\"]').length > {n}", timeout=180_000)
    page.wait_for_function("!document.querySelector('#sa-input textarea').disabled", timeout=180_000)
    page.wait_for_timeout(2000)  # the photos of the new cards load (the event stream never goes idle)


def sort_by(page: Page, label: str) -> None:
    n = page.locator('#sa-chat [data-testid="bot"]').count()
    page.locator("#sa-sort input").click()
    page.get_by_role("option", name=label).click()
    page.wait_for_function(f"document.querySelectorAll('#sa-chat [data-testid=\"bot\"]').length > {n}", timeout=180_000)
    page.wait_for_timeout(2000)  # the photos of the new cards load (the event stream never goes idle)


def open_times(page: Page) -> list[float]:
    """Milliseconds from a tap on each card's photo to its product page shown with its photo loaded."""
    page.evaluate("window.saTimings = []")
    for i in range(page.locator("#sa-results .sa-card").count()):
        page.locator("#sa-results .sa-card .sa-img").nth(i).click()
        page.wait_for_selector("#sa-overlay .sa-page")
        page.wait_for_function(f"(window.saTimings || []).length > {i}")
        page.locator("#sa-overlay [data-close]").first.click()
    return list(page.evaluate("window.saTimings"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="", help="a running app (default: start one)")
    args = ap.parse_args()
    app = None if args.url else App(name="shop")
    url = args.url or app.url  # type: ignore[union-attr]
    try:
        if app is not None:
            app.wait_ready(900)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, viewport in (("desktop", {"width": 1400, "height": 1000}), ("phone", {"width": 390, "height": 844})):
                page = browser.new_context(viewport=viewport).new_page()
                page.goto(url)
                page.wait_for_selector(".sa-ex", timeout=600_000)
                traffic = Traffic(page)
                first = traffic.during(lambda pg=page: turn(pg, QUERY))
                cheaper = traffic.during(lambda pg=page: turn(pg, "cheaper"))
                back = traffic.during(lambda pg=page: turn(pg, "go back"))
                by_price = traffic.during(lambda pg=page: sort_by(pg, "Price: low to high"))
                times = open_times(page)
                print(f"{name:8} product page open ms: p50 {statistics.median(times):.0f}  "
                      f"p95 {sorted(times)[int(0.95 * (len(times) - 1))]:.0f}  (n={len(times)})")
                for label, t in (("first search", first), ("'cheaper'", cheaper),
                                 ("'go back' (photos seen before)", back), ("sort by price (photos seen before)", by_price)):
                    print(f"{name:8} {label:36} markup {t['markup'] / 1024:5.1f} KB   photos downloaded "
                          f"{t['photos'] / 1024:6.1f} KB")
                page.context.close()
            browser.close()
    finally:
        if app is not None:
            app.stop()


if __name__ == "__main__":
    main()
