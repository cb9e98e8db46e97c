"""The garment cut out of a catalog photo of a model wearing it: inside the person mask, the pixels whose
colour is the torso's rather than the model's skin, hair or legs (colour histograms sampled where the
landmarks say each is), joined to the torso; hands and arms in front of it are filled in from around them.
Pure functions of a `Body`."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from .body import L_EYE, L_HIP, L_KNEE, NOSE, R_EYE, R_HIP, R_KNEE, Body

BINS = 16  # per Lab channel
LONG_TOPS = frozenset({"Kurtas", "Kurtis", "Tunics", "Dupatta"})  # may reach the knees: the legs are not sampled
CORE_SHRINK = 0.3  # the torso sample: the shoulders-hips quadrilateral shrunk this far towards its middle
# a colour seen in both the torso sample and the skin / hair / legs samples counts this much more as garment
# above the hips; below them (where trousers are), as much as elsewhere
GARMENT_PRIOR = 4.0
HEM_REACH = {"long": 1.6, "short": 0.4}  # the garment ends at most this share of the torso below the hips
NECK_CUT = 0.12  # nothing above this share of the torso above the shoulder line is garment (collars reach it)


@dataclass(frozen=True)
class Garment:
    """A cut-out: RGB (H x W x 3, uint8, holes filled in) and its alpha (H x W, float32 0-1)."""

    rgb: np.ndarray
    alpha: np.ndarray


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius ** 2


def _polygon(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(points).astype(np.int32)], 1)
    return out.astype(bool)


def _histogram(codes: np.ndarray, where: np.ndarray) -> np.ndarray | None:
    """A smoothed, normalised colour histogram of the pixels `where`; None when too few."""
    sample = codes[where]
    if sample.size < 20:
        return None
    h = np.bincount(sample, minlength=BINS ** 3).reshape(BINS, BINS, BINS).astype(np.float64)
    h = ndimage.gaussian_filter(h, 0.8) + 1e-6
    return h / h.sum()


def samples(body: Body, article_type: str) -> dict[str, np.ndarray]:
    """Where each colour is sampled (boolean masks): the garment's torso core, skin, hair and the legs."""
    shape = body.mask.shape
    person = body.mask > 0.5
    p = body.points
    torso = body.torso
    centre = torso.mean(0)
    eye = float(np.linalg.norm(p[L_EYE] - p[R_EYE])) or 0.2 * body.shoulder_width
    down = (p[L_HIP] + p[R_HIP]) / 2 - torso[:2].mean(0)
    out = {"garment": _polygon(shape, centre + (1 - CORE_SHRINK) * (torso - centre)) & person,
           "skin": _disc(shape, p[NOSE] + 0.6 * eye * down / max(np.linalg.norm(down), 1e-6), 0.45 * eye) & person,
           "hair": _disc(shape, (p[L_EYE] + p[R_EYE]) / 2 - 1.3 * eye * down / max(np.linalg.norm(down), 1e-6),
                         0.5 * eye) & person}
    if article_type not in LONG_TOPS:
        if body.seen(L_KNEE, R_KNEE):
            top, bottom = p[[L_KNEE, R_KNEE], 1].mean(), p[[L_KNEE, R_KNEE], 1].mean() + 0.5 * np.linalg.norm(down)
        else:
            top, bottom = p[[L_HIP, R_HIP], 1].max() + HEM_REACH["short"] * np.linalg.norm(down), shape[0]
        rows = np.zeros(shape, bool)
        rows[int(min(top, shape[0])):int(min(bottom, shape[0]))] = True
        out["legs"] = rows & person
    return out


def cut_out(body: Body, article_type: str) -> Garment:
    """The garment the body wears (its top), from its photo."""
    shape = body.mask.shape
    person = body.mask > 0.5
    lab = cv2.cvtColor(body.image, cv2.COLOR_RGB2LAB) // (256 // BINS)
    codes = (lab[..., 0].astype(np.int64) * BINS + lab[..., 1]) * BINS + lab[..., 2]
    where = samples(body, article_type)
    garment = _histogram(codes, where["garment"])
    if garment is None:
        return Garment(body.image, np.zeros(shape, np.float32))
    others = [h for k, m in where.items() if k != "garment" and (h := _histogram(codes, m & ~where["garment"])) is not None]
    p_garment = garment.ravel()[codes]
    p_other = np.max([h.ravel()[codes] for h in others], axis=0) if others else np.zeros(shape)
    down = body.torso[2:].mean(0) - body.torso[:2].mean(0)
    prior = np.where(beside(body.torso[2:], down, 0.0, shape) & ("legs" in where), 1.0, GARMENT_PRIOR)
    mask = person & (prior * p_garment > p_other)
    reach = HEM_REACH["long" if article_type in LONG_TOPS else "short"]
    mask &= beside(body.torso[:2], down, -NECK_CUT, shape) & ~beside(body.torso[2:], down, reach, shape)
    mask |= where["garment"]
    radius = max(1, round(0.03 * body.shoulder_width))
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, _ = ndimage.label(mask)
    keep = np.unique(labels[where["garment"] & mask])
    mask = np.isin(labels, keep[keep > 0])
    mask = ndimage.binary_closing(mask, iterations=radius)
    filled = ndimage.binary_fill_holes(mask)
    holes = (filled & ~mask).astype(np.uint8)
    rgb = cv2.inpaint(body.image, holes, 3, cv2.INPAINT_TELEA) if holes.any() else body.image
    alpha = cv2.GaussianBlur(filled.astype(np.float32), (3, 3), 0)
    return Garment(rgb, alpha)


def beside(line: np.ndarray, down: np.ndarray, shift: float, shape: tuple[int, int]) -> np.ndarray:
    """Pixels on the `down` side of the line through the two points `line` (across it), moved by `shift` x `down`
    (down the body; along a forearm past its wrist)."""
    normal = down / max(np.linalg.norm(down), 1e-6)
    origin = line.mean(0) + shift * down
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (xx - origin[0]) * normal[0] + (yy - origin[1]) * normal[1] >= 0
