"""Query fusion: one vector in the joint space from a photo and/or words (and words said against)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .encoders.base import normalise


class Fuser(Protocol):
    name: str

    def fuse(self, image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray:
        """Joint-space vectors in, one normalised query vector out; either side may be missing."""
        ...


class WeightedFuser:
    """Weighted average of the two normalised vectors: alpha · photo + (1 − alpha) · words."""

    name = "weighted"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def fuse(self, image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray:
        if image is None and text is None:
            raise ValueError("nothing to fuse")
        if image is None:
            return normalise(text)
        if text is None:
            return normalise(image)
        return normalise(self.alpha * normalise(image) + (1 - self.alpha) * normalise(text))


def steer(query: np.ndarray, towards: list[np.ndarray], away: list[np.ndarray], weight: float = 0.3) -> np.ndarray:
    """Move a query towards liked / asked-for vectors and away from disliked / refused ones."""
    q = normalise(query)
    if towards:
        q = q + weight * normalise(np.mean(towards, axis=0))
    if away:
        q = q - weight * normalise(np.mean(away, axis=0))
    return normalise(q)
