"""A body in a photo: BlazePose's 33 landmarks (pixels, with visibility) and that person's mask, both from
mediapipe's Tasks API `PoseLandmarker` (the landmark network's own segmentation output: one model, one
interpreter) run offline on the files `models` fetched. The landmarks are read a second time from the body
brought to one canonical size and tilt (`canonical_pass`), so a 168 x 224 catalog photo and a 512 px shopper's
photo are seen alike by the network. Also what makes a photo usable for the fitting room
(one frontal, standing person with shoulders and hips in view): `TryOnError` with one sentence when it is not."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from ..errors import InputError
from . import models

# BlazePose landmark numbers (https://ai.google.dev/edge/mediapipe/solutions/vision/pose_landmarker)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 2, 5, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
HAND = tuple(range(15, 23))  # wrists, pinkies, index fingers, thumbs
L_HIP, R_HIP, L_KNEE, R_KNEE = 23, 24, 25, 26
FACE = tuple(range(0, 11))

# The second look: the body turned so its shoulders are level, scaled to this shoulder width (pixels) and
# placed on a canvas of this size (width, height) with the shoulders' middle at this share across and down.
# Why (synthetic self-transfer, bench.tryon): BlazePose's hips moved by 0.03 shoulder widths on a mere 2.2x
# upscale of the same photo, and disagreed by 0.12 (median) between a catalog photo and its deformed copy
# (shoulders: 0.025); read this way, 0.085. Size and canvas chosen on seed 1 among 70-140 px, two canvases.
CANONICAL_SHOULDERS = 100.0
CANONICAL_CANVAS = (320, 480)
CANONICAL_SHOULDER_AT = (0.5, 0.3)


class TryOnError(InputError):
    """A photo or product the fitting room cannot use; the message is one sentence for the shopper."""


@dataclass(frozen=True)
class Pose:
    """One person's landmarks in pixels (33 x 2) and their visibility (0-1): all the warp needs, and all a
    product photo's cache keeps of its model (not the photo or the mask)."""

    points: np.ndarray
    visibility: np.ndarray

    @property
    def shoulder_width(self) -> float:
        return float(np.linalg.norm(self.points[L_SHOULDER] - self.points[R_SHOULDER]))

    @property
    def torso(self) -> np.ndarray:
        """The torso quadrilateral: left shoulder, right shoulder, right hip, left hip (pixels)."""
        return self.points[[L_SHOULDER, R_SHOULDER, R_HIP, L_HIP]]

    def seen(self, *ids: int, at_least: float = 0.5) -> bool:
        return bool(all(self.visibility[i] >= at_least for i in ids))


@dataclass(frozen=True)
class Body(Pose):
    """One person in an RGB photo: the `Pose`, the photo, the person's mask (H x W, probability) and, when a
    second person shows, how tall they are relative to this one."""

    image: np.ndarray
    mask: np.ndarray
    others: float = 0.0

    @property
    def pose(self) -> Pose:
        return Pose(self.points, self.visibility)


class _Models:
    """The Tasks API's pose landmarker (landmarks and each person's mask), made once per process on first use
    and used by one thread at a time."""

    def __init__(self, folder: Path):
        models.fetch(folder)
        self.lock = threading.Lock()
        self.pose = vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(folder / models.POSE_TASK)), num_poses=2,
            min_pose_detection_confidence=0.5, output_segmentation_masks=True))
        # closed before the interpreter stops mediapipe's own worker threads (atexit runs after that)
        threading._register_atexit(self.close)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.pose.close()


@lru_cache(maxsize=2)
def _models(folder: str) -> _Models:
    return _Models(Path(folder))


def _height(landmarks: list) -> float:
    ys = [lm.y for lm in landmarks]
    return max(ys) - min(ys)


def _points(landmarks: list, w: int, h: int) -> np.ndarray:
    return np.array([[lm.x * w, lm.y * h] for lm in landmarks], dtype=np.float64)


def canonical_pass(image: np.ndarray, points: np.ndarray, pose: vision.PoseLandmarker) -> np.ndarray | None:
    """The landmarks of the body whose first ones are `points`, read again from the photo turned,
    scaled and cropped so the shoulders are level, `CANONICAL_SHOULDERS` apart at `CANONICAL_SHOULDER_AT` of
    `CANONICAL_CANVAS`; None when the shoulders coincide or no body shows there (the caller's lock held)."""
    across = points[L_SHOULDER] - points[R_SHOULDER]
    width = float(np.linalg.norm(across))
    if width < 1.0:
        return None
    angle = -np.arctan2(across[1], across[0])
    rotate = CANONICAL_SHOULDERS / width * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    at = np.array(CANONICAL_SHOULDER_AT) * CANONICAL_CANVAS
    matrix = np.hstack([rotate, (at - rotate @ points[[L_SHOULDER, R_SHOULDER]].mean(0))[:, None]])
    canvas = cv2.warpAffine(image, matrix, CANONICAL_CANVAS, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    found = pose.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=canvas)).pose_landmarks
    if not found:
        return None
    seen = [_points(lms, *CANONICAL_CANVAS) for lms in found]
    nearest = int(np.argmin([np.linalg.norm(q[[L_SHOULDER, R_SHOULDER]].mean(0) - at) for q in seen]))
    back = cv2.invertAffineTransform(matrix)
    return seen[nearest] @ back[:, :2].T + back[:, 2]


def analyse(image: np.ndarray, models_dir: str) -> Body | None:
    """The most prominent person in `image` (H x W x 3 uint8 RGB), or None when no body is found: found in the
    whole photo (their mask, whether others show, which landmarks are in view), their landmarks' places read
    again by `canonical_pass` (a crop cannot tell what the whole photo shows: a flat lay's ghost pose looks
    more certain there)."""
    m = _models(models_dir)
    frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
    with m.lock:
        result = m.pose.detect(frame)
        if not result.pose_landmarks:
            return None
        order = sorted(range(len(result.pose_landmarks)), key=lambda i: _height(result.pose_landmarks[i]), reverse=True)
        h, w = image.shape[:2]
        mask = np.asarray(result.segmentation_masks[order[0]].numpy_view(), dtype=np.float32).reshape(h, w).copy()
        found = [result.pose_landmarks[i] for i in order]
        first = _points(found[0], w, h)
        again = canonical_pass(image, first, m.pose)
    points = first if again is None else again
    visibility = np.array([lm.visibility for lm in found[0]], dtype=np.float32)
    others = _height(found[1]) / max(_height(found[0]), 1e-6) if len(found) > 1 else 0.0
    return Body(points.astype(np.float32), visibility, image, mask, others)


def check_shopper(body: Body | None, min_visibility: float, min_shoulder_share: float, other_share: float) -> Body:
    """The body when its photo can be dressed, else TryOnError saying why in one sentence."""
    if body is None:
        raise TryOnError("I can't find a person in that photo; please use a photo of yourself standing, from the front.")
    if body.others >= other_share:
        raise TryOnError("That photo shows more than one person; please use a photo of just yourself.")
    if not body.seen(L_SHOULDER, R_SHOULDER, at_least=min_visibility):
        raise TryOnError("I can't see both your shoulders in that photo; please use one showing you from the front.")
    if not body.seen(L_HIP, R_HIP, at_least=min_visibility):
        raise TryOnError("I can't see your hips in that photo; please use one showing you down to below the waist.")
    if body.shoulder_width < min_shoulder_share * body.image.shape[1]:
        raise TryOnError("You are too small in that photo; please use one where you fill more of the picture.")
    return check_frontal(body, "That photo seems to show you from the back; please use one taken from the front.")


def check_frontal(body: Body, message: str) -> Body:
    """A frontal, upright body: the person's left shoulder on the photo's right, the face seen, the
    shoulders above the hips; else TryOnError(message)."""
    left_on_right = body.points[L_SHOULDER, 0] > body.points[R_SHOULDER, 0]
    face_seen = body.seen(NOSE, L_EYE, R_EYE, at_least=0.5)
    upright = body.points[[L_SHOULDER, R_SHOULDER], 1].mean() < body.points[[L_HIP, R_HIP], 1].mean()
    if not (left_on_right and face_seen and upright):
        raise TryOnError(message)
    return body
