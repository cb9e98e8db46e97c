"""A hub CLIP (transformers CLIPModel) as both the text and the image encoder: "clip:<hub id or folder>".

Only transformers, tokenizers and PIL are used for preprocessing (no torchvision)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .base import ModelFileError, normalise
from .image import square_pad

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
CONFIG_FILES = ("config.json", "preprocessor_config.json")


def check_folder(folder: Path) -> None:
    """A local CLIP folder must hold its config, weights, tokenizer and image-processor files, none empty."""
    def usable(name: str) -> bool:
        return (folder / name).is_file() and (folder / name).stat().st_size > 0

    for name in CONFIG_FILES:
        if not usable(name):
            raise ModelFileError(f"model file {'empty' if (folder / name).is_file() else 'missing'}: {folder / name}")
    weights = [n for n in WEIGHT_FILES if (folder / n).is_file()]
    if not weights:
        raise ModelFileError(f"model file missing: {folder / WEIGHT_FILES[0]} (no CLIP weights in {folder})")
    for name in weights:
        if not usable(name):
            raise ModelFileError(f"model file empty: {folder / name}")
    if not any(all(usable(n) for n in group) for group in TOKENIZER_FILES):
        missing = next(folder / n for n in TOKENIZER_FILES[1] if not usable(n))
        raise ModelFileError(f"model file missing or empty: {missing} (the CLIP tokenizer needs tokenizer.json "
                             "or vocab.json + merges.txt)")


def _features(out: object) -> torch.Tensor:
    """get_*_features returns a tensor (transformers 4) or an output whose pooler_output is projected (5)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output  # type: ignore[attr-defined]


class ClipEncoder:
    """CLIP text and image towers, projected, L2-normalised."""

    def __init__(self, source: str, batch: int = 32) -> None:
        import transformers
        from transformers import CLIPModel, CLIPTokenizer

        processor_cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
        self.name = f"clip:{source}"
        self.batch = batch
        folder = Path(source).expanduser()
        local = folder.is_dir()
        if local:
            check_folder(folder)
        elif source.startswith((".", "/", "~")):
            raise ModelFileError(f"model folder missing: {folder}")
        where = str(folder) if local else source
        try:
            self.tokenizer = CLIPTokenizer.from_pretrained(where)
            self.processor = processor_cls.from_pretrained(where)
        except Exception as e:  # any loader failure means the files are unusable
            raise ModelFileError(f"cannot load the CLIP tokenizer / image processor from {where}: "
                                 f"{type(e).__name__}: {e}") from None
        try:
            self.model = CLIPModel.from_pretrained(where).eval()
        except Exception as e:
            weights = next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), folder) if local else where
            raise ModelFileError(f"model file damaged: {weights} ({type(e).__name__}: {e})") from None
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        crop = getattr(self.processor, "crop_size", None) or {}
        self.size = int(crop.get("height") or 224) if isinstance(crop, dict) else 224

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for s in range(0, len(texts), self.batch):
            batch = self.tokenizer(list(texts[s:s + self.batch]), padding=True, truncation=True,
                                   max_length=self.max_tokens, return_tensors="pt")
            feats = self.model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            out.append(_features(feats).float().numpy())
        return normalise(np.concatenate(out))

    @torch.inference_mode()
    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for s in range(0, len(images), self.batch):
            # Pad to a white square first: the processor's centre crop would cut off a tall photo's ends.
            batch = [square_pad(im.convert("RGB"), self.size) for im in images[s:s + self.batch]]
            pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
            out.append(_features(self.model.get_image_features(pixel_values=pixels)).float().numpy())
        return normalise(np.concatenate(out))
