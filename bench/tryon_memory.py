"""The memory the fitting room adds to a process, measured in a fresh one doing only what the app does (run by
`bench.tryon`, which passes the job on stdin: {"people": [photo paths], "products": [product rows]}). Before
the fitting room is imported, the process holds what the app holds before anyone tries a top on: Python,
numpy, Pillow and scipy.ndimage (photo search uses them); every try-on after that counts: mediapipe with
OpenCV, the pose model, its buffers, the product photos' cache. Each shopper's photo is analysed once and
dressed in every product, as a session does; the app's cap on malloc arenas is the caller's to set
(MALLOC_ARENA_MAX, as app.py does). Prints one JSON line: MB added after the try-ons, and at the peak."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy  # noqa: F401  (loaded by the app before any try-on)
import PIL.Image  # noqa: F401
import scipy.ndimage  # noqa: F401


def status_mb(field: str) -> float:
    """A /proc/self/status memory field (VmRSS, VmHWM) in MB; 0 where there is no /proc."""
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    job = json.loads(sys.stdin.read())
    base = status_mb("VmRSS")
    from assistant.config import Settings
    from assistant.tryon.render import analyse_shopper, render

    settings = Settings.from_env()
    for photo in job["people"]:
        shopper = analyse_shopper(Path(photo), settings)
        for product in job["products"]:
            render(shopper, product, settings)
    print(json.dumps({"added_mb": status_mb("VmRSS") - base, "peak_mb": status_mb("VmHWM") - base}))


if __name__ == "__main__":
    main()
