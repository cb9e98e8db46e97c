"""Query fusion: one vector in the joint space from a photo and/or words (and words said against).

Three strategies behind one interface, chosen by name (`Settings.fusion`):
- `weighted`: alpha · photo + (1 − alpha) · words, both normalised;
- `concat`: a text projection, an image projection, concatenation, a fusion MLP (learned);
- `attention`: a Transformer layer over [CLS, photo, words] tokens, softmax(QKᵀ/√d)·V (learned);
and `facet` (the default): the weighted vector plus the photo's type and gender and the words'
change as ranking facets (the engine applies those)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .encoders.base import ModelFileError, normalise

STRATEGIES = ("facet", "weighted", "concat", "attention")


class Fuser(Protocol):
    name: str

    def fuse(self, image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray:
        """Joint-space vectors in, one normalised query vector out; either side may be missing."""
        ...


def _single(image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray | None:
    if image is None and text is None:
        raise ValueError("nothing to fuse")
    if image is None:
        return normalise(text)
    if text is None:
        return normalise(image)
    return None


class WeightedFuser:
    """Weighted average of the two normalised vectors: alpha · photo + (1 − alpha) · words."""

    def __init__(self, alpha: float = 0.5, name: str = "weighted") -> None:
        self.alpha, self.name = alpha, name

    def fuse(self, image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray:
        one = _single(image, text)
        if one is not None:
            return one
        return normalise(self.alpha * normalise(image) + (1 - self.alpha) * normalise(text))


class ConcatFusion(nn.Module):
    """Projection per modality → concatenation → fusion MLP, with a residual to the photo."""

    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.image_proj, self.text_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.fuse = nn.Sequential(nn.Linear(2 * dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        z = torch.cat([self.image_proj(image), self.text_proj(text)], dim=-1)
        return nn.functional.normalize(image + text + self.fuse(z), dim=-1)


class AttentionFusion(nn.Module):
    """One Transformer encoder layer over the modality tokens; the CLS token's output is the query."""

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.modality = nn.Parameter(torch.zeros(1, 2, dim))
        self.layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True)
        self.out = nn.Linear(dim, dim)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        tokens = torch.stack([image, text], dim=1) + self.modality
        x = self.layer(torch.cat([self.cls.expand(len(image), -1, -1), tokens], dim=1))
        return nn.functional.normalize(image + text + self.out(x[:, 0]), dim=-1)


LEARNED: dict[str, type[nn.Module]] = {"concat": ConcatFusion, "attention": AttentionFusion}


class LearnedFuser:
    """A trained fusion module behind the `Fuser` interface."""

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name, self.module = name, module.eval()

    @torch.inference_mode()
    def fuse(self, image: np.ndarray | None, text: np.ndarray | None) -> np.ndarray:
        one = _single(image, text)
        if one is not None:
            return one
        out = self.module(torch.from_numpy(normalise(image)[None]), torch.from_numpy(normalise(text)[None]))
        return out[0].numpy()

    def save(self, folder: str | Path) -> None:
        save_file({k: v.contiguous() for k, v in self.module.state_dict().items()},
                  str(Path(folder) / f"fusion_{self.name}.safetensors"))


def load_fuser(name: str, folder: str | Path, dim: int, alpha: float) -> Fuser:
    if name in ("weighted", "facet"):
        return WeightedFuser(alpha, name)
    if name not in LEARNED:
        raise ValueError(f"unknown fusion strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    path = Path(folder) / f"fusion_{name}.safetensors"
    if not path.is_file():
        raise ModelFileError(f"model file missing: {path} (run `python -m assistant train`)")
    module = LEARNED[name](dim)
    try:
        module.load_state_dict(load_file(str(path)))
    except Exception as e:  # shape/format errors mean the file is not usable
        raise ModelFileError(f"model file damaged: {path} ({e})") from None
    return LearnedFuser(name, module)


def write_fusion_card(folder: str | Path, metrics: dict[str, dict[str, float]]) -> None:
    (Path(folder) / "fusion_card.json").write_text(json.dumps(metrics, indent=2) + "\n")


def steer(query: np.ndarray, towards: list[np.ndarray], away: list[np.ndarray], weight: float = 0.3) -> np.ndarray:
    """Move a query towards liked / asked-for vectors and away from disliked / refused ones."""
    q = normalise(query)
    if towards:
        q = q + weight * normalise(np.mean(towards, axis=0))
    if away:
        q = q - weight * normalise(np.mean(away, axis=0))
    return normalise(q)
