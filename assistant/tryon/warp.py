"""Where a garment goes on another body: a thin-plate spline through matching body landmarks (shoulders,
elbows, wrists, hips, neck, hem) from the shopper's photo back to the catalog photo, evaluated on a coarse
grid and resampled with OpenCV; and the usual baseline it is measured against (scale to the shoulder width)."""

from __future__ import annotations

import cv2
import numpy as np

from .body import L_ELBOW, L_HIP, L_SHOULDER, L_WRIST, R_ELBOW, R_HIP, R_SHOULDER, R_WRIST, Pose

GRID_STEP = 4  # the spline is evaluated every this many pixels and interpolated between
NECK_RISE = 0.15  # the neck point: this share of the torso above the shoulders' middle
HEM_DROP = 0.35  # hem points: this share of the torso below each hip
LIMBS = ((L_ELBOW, L_SHOULDER), (R_ELBOW, R_SHOULDER), (L_WRIST, L_ELBOW), (R_WRIST, R_ELBOW))


def _kernel(r2: np.ndarray) -> np.ndarray:
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-12)), 0.0)


def tps_fit(src: np.ndarray, dst: np.ndarray, smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(weights, affine) of the thin-plate spline taking the n points `src` (n x 2) to `dst`."""
    n = len(src)
    k = _kernel(((src[:, None, :] - src[None, :, :]) ** 2).sum(-1)) + smoothing * np.eye(n)
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    solution = np.linalg.solve(a, b)
    return solution[:n], solution[n:]


def tps_apply(spline: tuple[np.ndarray, np.ndarray], src: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The spline fitted on control points `src` applied to `points` (m x 2)."""
    weights, affine = spline
    u = _kernel(((points[:, None, :] - src[None, :, :]) ** 2).sum(-1))
    return affine[0] + points @ affine[1:] + u @ weights


def control_points(body: Pose, usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(points n x 2, which limb points are in) on a body: shoulders, hips, neck, torso sides and middle,
    hem and the elbows and wrists marked in `usable` (default: those seen, each with its joint above)."""
    p = body.points
    ls, rs, lh, rh = p[L_SHOULDER], p[R_SHOULDER], p[L_HIP], p[R_HIP]
    down = (lh + rh) / 2 - (ls + rs) / 2
    fixed = [ls, rs, lh, rh, (ls + rs) / 2 - NECK_RISE * down, (ls + lh) / 2, (rs + rh) / 2, (ls + rs + lh + rh) / 4,
             lh + HEM_DROP * down, rh + HEM_DROP * down]
    if usable is None:
        usable = np.array([body.seen(a, b) for a, b in LIMBS])
    limbs = [p[a] for (a, _), ok in zip(LIMBS, usable, strict=True) if ok]
    return np.array(fixed + limbs, dtype=np.float64), usable


def body_map(source: Pose, target: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Control points (source, target) matched between two bodies: limb points seen on both."""
    usable = control_points(source)[1] & control_points(target)[1]
    return control_points(source, usable)[0], control_points(target, usable)[0]


def shoulder_map(source: Pose, target: Pose) -> np.ndarray:
    """The baseline: the 2 x 3 similarity taking the source's shoulder line onto the target's."""
    s = source.points[[L_SHOULDER, R_SHOULDER]].astype(np.float64)
    t = target.points[[L_SHOULDER, R_SHOULDER]].astype(np.float64)
    vs, vt = s[1] - s[0], t[1] - t[0]
    scale = np.linalg.norm(vt) / max(np.linalg.norm(vs), 1e-6)
    angle = np.arctan2(vt[1], vt[0]) - np.arctan2(vs[1], vs[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rot, (t[0] - rot @ s[0])[:, None]])


def backward_grid(target_points: np.ndarray, source_points: np.ndarray, shape: tuple[int, int],
                  smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 (H x W): for each pixel of the target photo, where to read the source photo."""
    h, w = shape
    scale = max(h, w)  # the spline is solved in units of the photo size (well conditioned)
    spline = tps_fit(target_points / scale, source_points / scale, smoothing)
    gy, gx = np.mgrid[0:h + GRID_STEP:GRID_STEP, 0:w + GRID_STEP:GRID_STEP].astype(np.float64)
    coarse = tps_apply(spline, target_points / scale, np.stack([gx.ravel(), gy.ravel()], 1) / scale) * scale
    cx, cy = (c.reshape(gx.shape).astype(np.float32) for c in coarse.T)
    full = (gx.shape[1] - 1) * GRID_STEP, (gx.shape[0] - 1) * GRID_STEP
    map_x = cv2.resize(cx, full, interpolation=cv2.INTER_LINEAR)[:h, :w]
    map_y = cv2.resize(cy, full, interpolation=cv2.INTER_LINEAR)[:h, :w]
    return map_x, map_y


def affine_grid(matrix: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) of the inverse of a 2 x 3 affine `matrix` (source -> target) over a target of `shape`."""
    inverse = cv2.invertAffineTransform(matrix)
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return ((inverse[0, 0] * gx + inverse[0, 1] * gy + inverse[0, 2]).astype(np.float32),
            (inverse[1, 0] * gx + inverse[1, 1] * gy + inverse[1, 2]).astype(np.float32))


def remap(image: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """`image` (H x W or H x W x C) read at the grid's positions (bilinear, zero outside)."""
    return cv2.remap(image, grid[0], grid[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
