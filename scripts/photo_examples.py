"""A contact sheet of shoppers' photos beside what the assistant made of them: the photo, what it says the photo
shows, and its first results (a green frame where it claims "the same product"). For the README.

    python scripts/photo_examples.py --queries ../shared/eval/fashion-dev/realphoto.jsonl --queries \
        ../shared/eval/fashion-dev/shopper.jsonl --per-file 3 --out assets/photo-examples.jpg
"""

from __future__ import annotations

import argparse
import random

from PIL import Image, ImageDraw

from assistant.config import Settings
from assistant.engine import Engine
from assistant.evaluate import load_queries

THUMB, RESULTS = 150, 5


def tile(path: str, frame: str | None = None) -> Image.Image:
    im = Image.open(path).convert("RGB")
    im.thumbnail((THUMB, THUMB))
    out = Image.new("RGB", (THUMB, THUMB), "white")
    out.paste(im, ((THUMB - im.width) // 2, (THUMB - im.height) // 2))
    if frame:
        ImageDraw.Draw(out).rectangle((0, 0, THUMB - 1, THUMB - 1), outline=frame, width=4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", action="append", required=True, help="a query file with photos (repeatable)")
    ap.add_argument("--per-file", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="assets/photo-examples.jpg")
    args = ap.parse_args()
    engine = Engine(Settings.from_env())
    rng = random.Random(args.seed)
    rows = []
    for f in args.queries:
        queries = [q for q in load_queries([f]) if q.get("image") and not q.get("text")]
        rows += rng.sample(queries, min(args.per_file, len(queries)))
    line = THUMB + 34
    sheet = Image.new("RGB", ((RESULTS + 1) * (THUMB + 6) + 10, len(rows) * line + 10), "white")
    draw = ImageDraw.Draw(sheet)
    for n, q in enumerate(rows):
        result = engine.search(image=q["image"], top_k=RESULTS)
        y = 5 + n * line
        sheet.paste(tile(q["image"], "black"), (5, y))
        for j, hit in enumerate(result.hits):
            sheet.paste(tile(hit.product["image"], "green" if hit.id in result.same_product else None),
                        (5 + (j + 1) * (THUMB + 6), y))
        said = result.photo_description() or "(nothing said)"
        draw.text((5, y + THUMB + 4), f"{q['qid']}: {said}"[:150], fill="black")
    sheet.save(args.out)
    print(f"saved {args.out} ({len(rows)} photos)")


if __name__ == "__main__":
    main()
