"""`make bench-tryon`: the fitting room measured. (a) pose found per article type on the catalog's dev-split
tops; (b) synthetic self-transfer: a dev top's model photo deformed by a known smooth map (scale, rotation,
body proportions, arm swing) is the shopper, already wearing the garment: mean displacement of the garment's
pixels from the truth / shoulder width, for the spline and for the usual baseline (the cut-out scaled to the
shoulder width); (c) the real pairs of ../shared/datasets/tryon (studio photo -> everyday photo of the same
outfit): coverage of the garment and SSIM inside it, spline and baseline; (d) shoppers x tops: torso coverage,
spill outside the person, face pixels unchanged, time per try-on (both photos analysed); memory the fitting
room adds, measured in a fresh process doing only those try-ons (`bench.tryon_memory`: this process holds the
bench's own data too, the catalog's rows and the pictures for the sheet); and the contact sheet of shoppers x
tops (assets/tryon-sheet.png)."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


BASE_RSS = rss_mb()  # before the fitting room's models are imported

from assistant.catalog import decode_image  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.tryon import TOPWEAR  # noqa: E402
from assistant.tryon.body import (  # noqa: E402
    L_ELBOW,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_WRIST,
    NOSE,
    R_ELBOW,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_WRIST,
    Pose,
    TryOnError,
    analyse,
)
from assistant.tryon.garment import cut_out  # noqa: E402
from assistant.tryon.render import _garment, analyse_shopper, dress, product_garment, protected, render  # noqa: E402
from assistant.tryon.warp import affine_grid, backward_grid, body_map, remap, shoulder_map  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
FASHION, TRYON = SHARED / "fashion", SHARED / "tryon"
# the outfits of the real pairs (avatars/N.jpg and people/N_posture.jpg): what each top is
PAIRS = {1: "Sweatshirts", 2: "Jackets", 3: "Sweaters", 4: "Jackets"}
TARGETS = {"pose found (all tops)": ">= 0.90", "placement median": "<= 0.05 and < baseline",
           "placement share < 0.05": ">= 0.45", "real-pair coverage": ">= 0.95", "real-pair SSIM": ">= baseline",
           "torso coverage": ">= 0.90", "spill": "<= 0.05", "face unchanged": "1.00", "try-on p50 s": "<= 1.0",
           "memory added MB": "<= 300"}


def dev_tops(limit_per_type: int, seed: int) -> list[dict]:
    dev = set(json.loads((FASHION / "splits.json").read_text())["dev"])
    rows = [json.loads(line) for line in (FASHION / "products.jsonl").read_text().splitlines() if line.strip()]
    tops = [{**r, "image": str(FASHION / r["image"])} for r in rows if r["id"] in dev and r["article_type"] in TOPWEAR]
    random.Random(seed).shuffle(tops)
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in tops:
        if len(by_type[r["article_type"]]) < limit_per_type:
            by_type[r["article_type"]].append(r)
    return [r for rs in by_type.values() for r in rs]


def pose_found(tops: list[dict], settings: Settings) -> tuple[dict[str, tuple[int, int]], list[dict]]:
    """Per article type (found, tried): the product's photo has a usable model and garment; and those products."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    usable = []
    for r in tops:
        counts[r["article_type"]][1] += 1
        try:
            product_garment(r, settings)
        except TryOnError:
            continue
        counts[r["article_type"]][0] += 1
        usable.append(r)
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}, usable


# --- (b) synthetic self-transfer ---------------------------------------------------------------------------
def known_map(body: Pose, shape: tuple[int, int], rng: np.random.Generator,
              size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Control points (on the source photo of `shape`, on the made shopper photo of `size`) of a smooth map:
    scale, rotation and shift of the whole photo, wider or narrower shoulders and hips, a longer or shorter
    torso, each arm swung about its shoulder; the photo's border follows the similarity alone."""
    h, w = shape
    p = body.points.astype(np.float64)
    centre = p[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]].mean(0)
    moved = p.copy()
    width, length = rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1)
    for i in (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_KNEE, R_KNEE):
        moved[i, 0] = centre[0] + width * (p[i, 0] - centre[0])
    for i in (L_HIP, R_HIP, L_KNEE, R_KNEE):
        moved[i, 1] = centre[1] + length * (p[i, 1] - centre[1])
    for shoulder, elbow, wrist in ((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST)):
        angle = np.radians(rng.uniform(-15, 15))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        for j in (elbow, wrist):
            moved[j] = moved[shoulder] + rot @ (moved[j] - moved[shoulder])
    scale = rng.uniform(1.8, 2.4)  # a shopper's photo is larger than a catalog thumbnail
    angle = np.radians(rng.uniform(-8, 8))
    sim = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out_centre = np.array(size[::-1], np.float64) / 2 + rng.uniform(-0.05, 0.05, 2) * size[::-1]
    place = lambda q: (q - np.array([w / 2, h / 2])) @ sim.T + out_centre  # noqa: E731
    ids = [NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HIP, R_HIP, L_KNEE, R_KNEE]
    border = np.array([[x, y] for x in np.linspace(0, w, 5) for y in np.linspace(0, h, 5)
                       if x in (0, w) or y in (0, h)])
    return np.vstack([p[ids], border]), np.vstack([place(moved[ids]), place(border)])


def self_transfer(usable: list[dict], settings: Settings, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    method, baseline, lost = [], [], 0
    for r in usable[:n]:
        source, garment = product_garment(r, settings)
        photo = np.asarray(decode_image(Path(r["image"]).read_bytes()))
        size = (int(photo.shape[0] * 2.2), int(photo.shape[1] * 2.2))
        src_pts, dst_pts = known_map(source, photo.shape[:2], rng, size)
        truth = backward_grid(dst_pts, src_pts, size)  # made-shopper pixel -> where it shows on the catalog photo (exact)
        shopper_img = remap(photo, truth)
        shopper = analyse(shopper_img, settings.tryon_models_dir)
        inside = remap(garment.alpha, truth) > 0.5
        if shopper is None or not shopper.seen(L_SHOULDER, R_SHOULDER, L_HIP, R_HIP) or not inside.any():
            lost += 1
            continue
        sw = source.shoulder_width
        for grid, out in ((backward_grid(*reversed(body_map(source, shopper)), size, settings.tryon_smoothing), method),
                          (affine_grid(shoulder_map(source, shopper), size), baseline)):
            d = np.hypot(grid[0] - truth[0], grid[1] - truth[1])[inside]
            out.append(float(d.mean() / sw))
    return {"n": len(method), "lost": lost, "method": method, "baseline": baseline}


# --- (c) real pairs, (d) shoppers x tops ------------------------------------------------------------------
def ssim_inside(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean SSIM (grey, Gaussian window sigma 1.5) over the pixels `where`."""
    x, y = (cv2.cvtColor(v, cv2.COLOR_RGB2GRAY).astype(np.float64) for v in (a, b))
    blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(s[where].mean())


def real_pairs(settings: Settings) -> list[dict]:
    out = []
    for i, kind in PAIRS.items():
        shopper = analyse_shopper(TRYON / "people" / f"{i}_posture.jpg", settings).body
        truth = cut_out(shopper, kind).alpha > 0.5
        source = analyse(np.asarray(decode_image((TRYON / "avatars" / f"{i}.jpg").read_bytes())), settings.tryon_models_dir)
        garment = cut_out(source, kind)
        row = {"pair": i, "type": kind}
        for name, grid in (("method", backward_grid(*reversed(body_map(source, shopper)), shopper.mask.shape,
                                                    settings.tryon_smoothing)),
                           ("baseline", affine_grid(shoulder_map(source, shopper), shopper.mask.shape))):
            picture, laid = dress(shopper, remap(garment.alpha, grid), remap(garment.rgb, grid))
            row[f"{name} coverage"] = float(((laid > 0.5) & truth).sum() / truth.sum())
            row[f"{name} SSIM"] = ssim_inside(picture, shopper.image, truth)
        out.append(row)
    return out


def unpaired(usable: list[dict], settings: Settings, n: int) -> tuple[dict, list[tuple[Path, dict, Image.Image]]]:
    people = sorted((TRYON / "people").glob("*_posture.jpg"))
    coverage, spill, face_same, seconds, refused = [], [], [], [], 0
    shown = []
    for r in usable[:n]:
        for photo in people:
            _garment.cache_clear()  # both photos analysed in every try-on
            start = time.perf_counter()
            image, report = render(photo, r, settings)
            seconds.append(time.perf_counter() - start)
            if image is None:
                refused += 1
                continue
            shopper = analyse_shopper(photo, settings).body
            face = protected(shopper)
            face_same.append(bool(np.array_equal(np.asarray(image)[face], shopper.image[face])))
            coverage.append(report.coverage)
            spill.append(report.spill)
            shown.append((photo, r, image))
    return {"try-ons": len(seconds), "refused": refused, "coverage": coverage, "spill": spill, "face": face_same,
            "seconds": seconds}, shown


def memory_added(products: list[dict], people: list[Path]) -> dict[str, float]:
    """MB the fitting room adds to a fresh process dressing `people` in `products` (after, peak), with the
    app's malloc arena cap (app.py sets 4 unless MALLOC_ARENA_MAX is set)."""
    job = json.dumps({"people": [str(p) for p in people], "products": products})
    done = subprocess.run([sys.executable, "-m", "bench.tryon_memory"], input=job, capture_output=True, text=True,
                          check=True, cwd=ROOT, env={"MALLOC_ARENA_MAX": "4", **os.environ})
    return json.loads(done.stdout.strip().splitlines()[-1])


def contact_sheet(shown: list[tuple[Path, dict, Image.Image]], out: Path, tops: int = 5, cell: int = 180) -> None:
    """Rows: the four shoppers' own photos, then each wearing `tops` tops; the top's catalog photo heads its column."""
    people = sorted({p for p, _, _ in shown})
    products = list(dict.fromkeys(r["id"] for _, r, _ in shown))[:tops]
    rows = {r["id"]: r for _, r, _ in shown}
    h = int(cell * 4 / 3)
    sheet = Image.new("RGB", ((tops + 1) * cell, (len(people) + 1) * h), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 8), "rows: shoppers\ncolumns: tops", fill=(60, 60, 60))

    def put(im: Image.Image, col: int, row: int) -> None:
        im = im.copy()
        im.thumbnail((cell - 6, h - 6))
        sheet.paste(im, (col * cell + (cell - im.width) // 2, row * h + (h - im.height) // 2))

    for c, pid in enumerate(products, 1):
        put(Image.open(rows[pid]["image"]).convert("RGB"), c, 0)
    for rr, person in enumerate(people, 1):
        put(Image.open(person).convert("RGB"), 0, rr)
        for c, pid in enumerate(products, 1):
            got = next((im for p, r, im in shown if p == person and r["id"] == pid), None)
            if got is not None:
                put(got, c, rr)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


def share(values: list[float], below: float) -> float:
    return sum(v < below for v in values) / max(len(values), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-type", type=int, default=60, help="dev tops per article type for the pose-found rate")
    ap.add_argument("--transfers", type=int, default=80, help="synthetic self-transfers")
    ap.add_argument("--tops", type=int, default=12, help="tops tried on each of the four shoppers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", type=Path, default=ROOT / "assets" / "tryon-sheet.png")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = ap.parse_args()
    settings = Settings.from_env()

    found, usable = pose_found(dev_tops(args.per_type, args.seed), settings)
    transfer = self_transfer(usable, settings, args.transfers, args.seed)
    pairs = real_pairs(settings)
    kinds = ("Tshirts", "Shirts", "Tops", "Kurtas", "Sweatshirts", "Sweaters")
    by_kind = [[r for r in usable if r["article_type"] == k] for k in kinds]
    mixed = [r for group in zip(*by_kind, strict=False) for r in group]  # one of each kind in turn
    worn, shown = unpaired(mixed, settings, args.tops)
    contact_sheet(shown, args.sheet)
    bench_rss = rss_mb() - BASE_RSS
    memory = memory_added(mixed[:args.tops], sorted((TRYON / "people").glob("*_posture.jpg")))

    print("pose found on the catalog's dev-split tops (usable model and garment):")
    for kind, (ok, n) in found.items():
        print(f"  {kind:<12} {ok:>4}/{n:<4} {ok / n:.2f}")
    total = sum(ok for ok, _ in found.values()) / max(sum(n for _, n in found.values()), 1)
    print(f"  {'all':<12} {total:.2f}")
    m, b = transfer["method"], transfer["baseline"]
    print(f"synthetic self-transfer ({transfer['n']} dev tops, {transfer['lost']} lost: no pose on the made photo), "
          "mean garment displacement / shoulder width:")
    print(f"  spline    median {statistics.median(m):.3f}  mean {statistics.fmean(m):.3f}  share < 0.05 {share(m, 0.05):.2f}")
    print(f"  baseline  median {statistics.median(b):.3f}  mean {statistics.fmean(b):.3f}  share < 0.05 {share(b, 0.05):.2f}")
    print(f"  spline better than the baseline on {sum(x < y for x, y in zip(m, b, strict=True))}/{len(m)}")
    print("real pairs (studio photo -> everyday photo, same outfit): garment coverage and SSIM inside it")
    for row in pairs:
        print(f"  {row['pair']} {row['type']:<12} spline cov {row['method coverage']:.2f} SSIM {row['method SSIM']:.3f}   "
              f"baseline cov {row['baseline coverage']:.2f} SSIM {row['baseline SSIM']:.3f}")
    for name in ("method", "baseline"):
        print(f"  {name:<9} mean cov {statistics.fmean(r[f'{name} coverage'] for r in pairs):.2f}  "
              f"mean SSIM {statistics.fmean(r[f'{name} SSIM'] for r in pairs):.3f}")
    sec = sorted(worn["seconds"])
    print(f"shoppers x tops ({worn['try-ons']} try-ons, {worn['refused']} refused):")
    print(f"  torso coverage median {statistics.median(worn['coverage']):.2f} mean {statistics.fmean(worn['coverage']):.2f}"
          f"  share >= 0.90 {1 - share(worn['coverage'], 0.90):.2f}")
    print(f"  spill median {statistics.median(worn['spill']):.3f} max {max(worn['spill']):.3f}")
    print(f"  face pixels unchanged {sum(worn['face'])}/{len(worn['face'])}")
    print(f"  time per try-on (both photos analysed) p50 {sec[len(sec) // 2]:.3f} s  p95 {sec[int(len(sec) * 0.95)]:.3f} s")
    print(f"  memory added (a fresh process: RSS after these try-ons - before the fitting room was imported) "
          f"{memory['added_mb']:.0f} MB, peak {memory['peak_mb']:.0f} MB")
    print(f"  (this bench process grew by {bench_rss:.0f} MB, its own data included)")
    print(f"contact sheet: {args.sheet}")
    print("targets: " + "; ".join(f"{k} {v}" for k, v in TARGETS.items()))
    if args.json:
        args.json.write_text(json.dumps({"pose_found": found, "self_transfer": transfer, "real_pairs": pairs,
                                         "unpaired": worn, "memory_mb": memory, "bench_rss_mb": bench_rss}, indent=1))


if __name__ == "__main__":
    main()
