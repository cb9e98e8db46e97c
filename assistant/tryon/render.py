"""The fitting room's one interface: `render(person_photo, product)` -> (picture or None, report). The
shopper's photo is analysed once (`Shopper`, kept by the caller in memory, never written); each product's
photo is analysed once per process (its garment cut out; only the model's landmarks and the garment are
kept, not the photo or its mask); the garment is warped onto the shopper by a
thin-plate spline through their body landmarks and laid over them, leaving their face, hands and
everything outside their silhouette untouched. A photo or product it cannot use gets one sentence why."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..catalog import decode_image
from ..config import Settings
from ..errors import InputError
from . import can_try_on, warp
from .body import (
    FACE,
    HAND,
    L_ELBOW,
    L_HIP,
    L_SHOULDER,
    R_ELBOW,
    R_HIP,
    R_SHOULDER,
    Body,
    Pose,
    TryOnError,
    analyse,
    check_frontal,
    check_shopper,
)
from .garment import Garment, beside, cut_out

SLEEVE_PAST_WRIST = 0.03  # a sleeve may cover this share of the shoulder width past the wrist (a cuff)
NOT_TOPWEAR = "The fitting room dresses you in tops only (shirts, T-shirts, tops, kurtas, sweaters, jackets) for now."


@dataclass(frozen=True)
class Shopper:
    """A shopper's photo at the fitting room's size, analysed: made once, dressed in any number of tops."""

    body: Body
    seconds: float


@dataclass
class Report:
    """What happened: ok or the one sentence why not; the product; timings (s) and how the garment sits
    (share of the shopper's torso it covers, share of it outside their silhouette)."""

    ok: bool
    message: str
    product_id: str = ""
    title: str = ""
    price: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    coverage: float = 0.0
    spill: float = 0.0


def _photo(photo: Image.Image | bytes | str | Path, settings: Settings) -> np.ndarray:
    """The shopper's photo upright (EXIF orientation applied), RGB, fitted within `tryon_side` pixels."""
    if isinstance(photo, (str, Path)):
        photo = Path(photo).read_bytes()
    if isinstance(photo, (bytes, bytearray)):
        photo = decode_image(bytes(photo), settings.max_image_pixels)
    if not isinstance(photo, Image.Image):
        raise InputError(f"a photo must be an image, not {type(photo).__name__}")
    image = ImageOps.exif_transpose(photo).convert("RGB")
    image.thumbnail((settings.tryon_side, settings.tryon_side), Image.Resampling.LANCZOS)
    return np.asarray(image).copy()


def analyse_shopper(photo: Image.Image | bytes | str | Path, settings: Settings) -> Shopper:
    """The shopper's photo analysed (TryOnError with one sentence when it cannot be dressed)."""
    start = time.perf_counter()
    image = _photo(photo, settings)
    body = check_shopper(analyse(image, settings.tryon_models_dir), settings.tryon_min_visibility,
                         settings.tryon_min_shoulder_share, settings.tryon_other_person_share)
    return Shopper(body, time.perf_counter() - start)


@lru_cache(maxsize=64)
def _garment(location: str, stamp: float, article_type: str, models_dir: str, min_visibility: float) -> tuple[Pose, Garment]:
    """A product photo's model (its pose) and the garment cut out of it (cached by file and modification time)."""
    image = np.asarray(decode_image(Path(location).read_bytes()))
    body = analyse(image, models_dir)
    if body is None or not body.seen(L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, at_least=min_visibility):
        raise TryOnError("This product's photo shows the garment without a person wearing it, so I can't fit it yet.")
    # a flat lay can carry a ghost pose that fails this check: the sentence holds for it and for a model's back
    check_frontal(body, "This product's photo doesn't show a model from the front, so I can't fit it yet.")
    garment = cut_out(body, article_type)
    if garment.alpha.sum() < 0.05 * body.shoulder_width ** 2:
        raise TryOnError("I can't make out the garment in this product's photo, so I can't fit it yet.")
    return body.pose, garment


def product_garment(product: dict, settings: Settings) -> tuple[Pose, Garment]:
    """The product's model and garment (TryOnError when it is not a top or its photo cannot be used)."""
    if not can_try_on(product):
        raise TryOnError(NOT_TOPWEAR)
    location = str(product.get("image") or "")
    if not location or location.startswith(("http://", "https://")) or not Path(location).is_file():
        raise TryOnError("This product's photo is not available here, so I can't fit it.")
    return _garment(location, Path(location).stat().st_mtime, product["article_type"], settings.tryon_models_dir,
                    settings.tryon_min_visibility)


def protected(body: Body) -> np.ndarray:
    """The shopper's pixels a garment never covers: the face (its landmarks' hull, enlarged) and the hands (a
    disc around each hand's landmarks, only past its wrist seen from the elbow, so a sleeve still reaches its
    cuff; the whole disc when the elbow is not seen)."""
    shape = body.mask.shape
    out = np.zeros(shape, np.uint8)
    face = body.points[list(FACE)]
    centre = face.mean(0)
    cv2.fillConvexPoly(out, np.round(centre + 1.9 * (face - centre)).astype(np.int32).reshape(-1, 1, 2), 1)
    for side, elbow in ((HAND[0::2], L_ELBOW), (HAND[1::2], R_ELBOW)):  # left hand: 15 17 19 21; right: 16 ...
        if body.seen(side[0]):
            hand = body.points[list(side)]
            middle = hand.mean(0)
            radius = 1.6 * float(np.linalg.norm(hand - middle, axis=1).max()) + 0.03 * body.shoulder_width
            disc = np.zeros(shape, np.uint8)
            cv2.circle(disc, tuple(int(v) for v in np.round(middle)), int(radius), 1, -1)
            if body.seen(elbow):
                along = body.points[side[0]] - body.points[elbow]
                reach = SLEEVE_PAST_WRIST * body.shoulder_width / max(float(np.linalg.norm(along)), 1e-6)
                disc &= beside(body.points[[side[0], side[0]]], along, reach, shape)
            out |= disc
    return out.astype(bool)


def torso_mask(body: Body) -> np.ndarray:
    out = np.zeros(body.mask.shape, np.uint8)
    cv2.fillConvexPoly(out, np.round(body.torso).astype(np.int32).reshape(-1, 1, 2), 1)
    return out.astype(bool)


def dress(person: Body, alpha: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(picture, alpha laid): the warped garment (`rgb`, `alpha` on the person's photo grid) over the person,
    only within their silhouette (grown by 2 % of the shoulders) and off their face and hands; every other
    pixel is the photo's own."""
    grow = max(1, round(0.02 * person.shoulder_width))
    inside = cv2.dilate((person.mask > 0.5).astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
    laid = np.where(inside & ~protected(person), alpha, 0.0).astype(np.float32)
    blended = laid[..., None] * rgb.astype(np.float32) + (1 - laid[..., None]) * person.image.astype(np.float32)
    picture = np.where(laid[..., None] > 0, np.clip(np.round(blended), 0, 255).astype(np.uint8), person.image)
    return picture, laid


def render(person_photo: Shopper | Image.Image | bytes | str | Path, product: dict,
           settings: Settings | None = None) -> tuple[Image.Image | None, Report]:
    """The shopper wearing the product's top (a 2-D preview, not a size or fit prediction), and the report;
    (None, report with the reason) when the photo or the product cannot be used."""
    settings = settings or Settings.from_env()
    meta = {"product_id": str(product.get("id", "")), "title": str(product.get("title", "")),
            "price": product.get("sale_price") if product.get("sale_price") not in (None, -1, -1.0) else None}
    try:
        shopper = person_photo if isinstance(person_photo, Shopper) else analyse_shopper(person_photo, settings)
        start = time.perf_counter()
        source, garment = product_garment(product, settings)
        cut = time.perf_counter()
        person = shopper.body
        grid = warp.backward_grid(*reversed(warp.body_map(source, person)), person.mask.shape, settings.tryon_smoothing)
        alpha, rgb = warp.remap(garment.alpha, grid), warp.remap(garment.rgb, grid)
        picture, laid = dress(person, alpha, rgb)
        end = time.perf_counter()
    except TryOnError as e:
        return None, Report(False, str(e), **meta)
    covered = laid > 0.5
    torso = torso_mask(person)
    report = Report(True, "Here you are wearing it: a 2-D preview, not a size or fit prediction.", **meta,
                    seconds={"shopper": round(shopper.seconds, 3), "product": round(cut - start, 3),
                             "fit": round(end - cut, 3)},
                    coverage=float((covered & torso).sum() / max(torso.sum(), 1)),
                    spill=float((covered & (person.mask <= 0.5)).sum() / max(covered.sum(), 1)))
    return Image.fromarray(picture), report


def data_uri(image: Image.Image, quality: int = 88) -> str:
    """A picture as an inline JPEG (the app shows try-ons this way: no file is written)."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
