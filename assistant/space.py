"""The learned joint image–text space: projection heads over frozen encoders, saved as safetensors + card."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from .encoders.base import load_checked, normalise, sha256_file

WEIGHTS, CARD = "space.safetensors", "card.json"


def _head(dim_in: int, dim_out: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, dim_out))


@dataclass
class SpaceCard:
    """What the space was trained from and how well; written next to the weights."""

    image_encoder: str
    text_encoder: str
    image_dim: int
    text_dim: int
    dim: int
    hidden: int = 1024
    data_hash: str = ""
    products: int = 0
    seed: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""  # of space.safetensors as saved; a damaged file fails it at load


class JointSpace(nn.Module):
    """Dual-stream projection: frozen image / text features → one normalised shared space."""

    def __init__(self, card: SpaceCard) -> None:
        super().__init__()
        self.card = card
        self.image_head = _head(card.image_dim, card.dim, card.hidden)
        self.text_head = _head(card.text_dim, card.dim, card.hidden)

    def forward_image(self, feats: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image_head(feats), dim=-1)

    def forward_text(self, feats: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.text_head(feats), dim=-1)

    @torch.inference_mode()
    def project_image(self, feats: np.ndarray) -> np.ndarray:
        return self.forward_image(torch.from_numpy(np.asarray(feats, np.float32))).numpy()

    @torch.inference_mode()
    def project_text(self, feats: np.ndarray) -> np.ndarray:
        return self.forward_text(torch.from_numpy(np.asarray(feats, np.float32))).numpy()

    def product_vectors(self, image_feats: np.ndarray, text_feats: np.ndarray, image_weight: float) -> np.ndarray:
        """Each product's point in the space: a weighted sum of its photo and its words."""
        return normalise(image_weight * self.project_image(image_feats)
                         + (1 - image_weight) * self.project_text(text_feats))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / WEIGHTS))
        self.card.weights_sha256 = sha256_file(folder / WEIGHTS)
        (folder / CARD).write_text(json.dumps(asdict(self.card), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> JointSpace:
        return load_checked(cls, SpaceCard, Path(folder) / WEIGHTS, Path(folder) / CARD)

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / WEIGHTS).is_file() and (Path(folder) / CARD).is_file()
