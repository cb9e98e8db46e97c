"""`make bench-start`: how soon a fresh clone serves shoppers, with nothing beside it.

Clones the committed HEAD into an empty temporary folder (no ../shared beside it), starts `python app.py`
there with no CATALOG_DIR and no DATA_DIR (so: the demo catalog and its prebuilt bundle, data/ inside the
clone), and times, from the moment the process starts, the first answered search in words, then a photo
(a demo product's photo, rotated, cropped, darkened and re-compressed) and a voice clip (assets/voice/);
then stops it and starts it again on the same data (a restart) and times the same. Each answer is
checked (real products of the right kind). `--repo DIR` runs an existing checkout instead of a clone
(`make space-check` runs it inside its rehearsal folder); `--python` picks the interpreter."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.app import ROOT, App

WORDS = "black heels under 1500 rupees"
VOICE = Path("assets") / "voice" / "black-heels-under-1500-rupees.wav"
# settings a developer's shell may carry that would point the app elsewhere than a fresh clone's defaults;
# HF_HUB_OFFLINE too: a Space does not set it, and the app must not need it
DROP = ("CATALOG_DIR", "DATA_DIR", "ASSISTANT_BUNDLE_DIR", "ASSISTANT_MODEL_DIR", "ASSISTANT_INDEX_DIR",
        "ASSISTANT_CACHE_DIR", "CHROMA_HOST", "PYTHONPATH", "HF_HUB_OFFLINE")


def fresh_clone(folder: Path, source: Path = ROOT) -> Path:
    """A clone of `source`'s committed HEAD at `folder`/repo (folder must not hold a `shared` beside it)."""
    head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    repo = folder / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(source), str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", head], check=True)
    return repo


def altered_photo(repo: Path, out: Path) -> tuple[Path, dict]:
    """A demo product's photo as a shopper might send it (turned, cropped, darker, re-compressed), and its row."""
    from PIL import Image, ImageEnhance

    rows = [json.loads(line) for line in (repo / "catalog" / "demo" / "products.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["article_type"] == "Handbags" and r["gender"] == "Women")
    with Image.open(repo / "catalog" / "demo" / row["image"]) as im:
        w, h = im.size
        shot = im.convert("RGB").rotate(6, expand=True, fillcolor=(235, 235, 235))
        shot = shot.crop((w // 20, h // 20, shot.width - w // 20, shot.height - h // 20))
        shot = ImageEnhance.Brightness(shot).enhance(0.85).resize((w * 2, h * 2))
    shot.save(out, quality=70)
    return out, row


@dataclass
class Start:
    """Seconds from the process start to each first answer, and what came back."""

    words: float = 0.0
    photo: float = 0.0
    voice: float = 0.0
    answers: dict[str, dict] = field(default_factory=dict)


def first_answers(app: App, started: float, photo: Path, voice: Path, timeout: float) -> Start:
    from gradio_client import handle_file

    client = app.wait_ready(timeout)  # polls /search_text until it answers with products
    out = Start()
    out.answers["words"] = client.predict(query=WORDS, min_price=None, max_price=None, top_k=12,
                                          api_name="/search_text")
    out.words = time.perf_counter() - started
    out.answers["photo"] = client.predict(image=handle_file(str(photo)), query="", top_k=12, api_name="/search_image")
    out.photo = time.perf_counter() - started
    out.answers["voice"] = client.predict(audio=handle_file(str(voice)), top_k=12, api_name="/search_voice")
    out.voice = time.perf_counter() - started
    return out


def start_once(repo: Path, python: str, photo: Path, timeout: float, name: str) -> Start:
    started = time.perf_counter()
    app = App(env={"DATA_DIR": str(repo / "data")}, name=name, root=repo, python=python, drop=DROP)
    try:
        return first_answers(app, started, photo, repo / VOICE, timeout)
    finally:
        app.stop()


def problems(start: Start, product: dict) -> list[str]:
    """What is wrong with the answers (empty: real products of the right kind came back)."""
    out = []
    words = start.answers["words"].get("products", [])
    if not words or any(p["article_type"] != "Heels" or p["sale_price"] > 1500 for p in words[:5]):
        out.append(f"words {WORDS!r}: {[(p['article_type'], p['sale_price']) for p in words[:5]]}")
    photo = start.answers["photo"].get("products", [])
    if product["id"] not in [p["id"] for p in photo[:3]]:
        out.append(f"photo of {product['id']} ({product['title']}): got {[p['id'] for p in photo[:3]]}")
    voice = start.answers["voice"]
    if "heels" not in voice.get("transcript", "").lower() or not voice.get("products"):
        out.append(f"voice: heard {voice.get('transcript')!r}, {len(voice.get('products', []))} products")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=None, help="run this checkout (default: a fresh clone of HEAD)")
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs app.py")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as tmp:
        repo = args.repo.resolve() if args.repo else fresh_clone(Path(tmp))
        if (repo.parent / "shared").exists():
            sys.exit(f"{repo.parent / 'shared'} exists: this measures a checkout with nothing beside it")
        photo, product = altered_photo(repo, Path(tmp) / "shopper-photo.jpg")
        runs = {"cold": start_once(repo, args.python, photo, args.timeout, "start-cold"),
                "restart": start_once(repo, args.python, photo, args.timeout, "start-warm")}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{repo} (no ../shared, no CATALOG_DIR: the demo catalog and its prebuilt bundle); "
          f"load average at the end (1, 5, 15 min) {load} on {os.cpu_count()} cores")
    print("seconds from `python app.py` starting to the first answer of each kind")
    print(f"{'start':8} {'words':>7} {'photo':>7} {'voice':>7}")
    bad = []
    for name, run in runs.items():
        print(f"{name:8} {run.words:>7.1f} {run.photo:>7.1f} {run.voice:>7.1f}")
        bad += [f"{name}: {p}" for p in problems(run, product)]
    first = runs["cold"].answers
    print(f"words {WORDS!r}: {len(first['words']['products'])} products, first {first['words']['products'][0]['title']!r}")
    print(f"photo of {product['title']!r}: first {first['photo']['products'][0]['title']!r}")
    print(f"voice: heard {first['voice'].get('transcript')!r}, first {first['voice']['products'][0]['title']!r}")
    if bad:
        sys.exit("FAILED:\n" + "\n".join(bad))
    print("PASS")


if __name__ == "__main__":
    main()
