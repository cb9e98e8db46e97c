"""Model registry: encoders are chosen by name from the config, so a hub CLIP drops in unchanged.

Names: image "efficientnet-lite2"; text "minilm", "use-multilingual", "st:<model or folder>";
both "clip:<hub id or folder>" (transformers CLIPModel)."""

from __future__ import annotations

from functools import lru_cache

from .base import ImageEncoder, ModelFileError, TextEncoder, normalise

__all__ = ["ImageEncoder", "ModelFileError", "TextEncoder", "image_encoder", "normalise", "text_encoder"]


@lru_cache(maxsize=4)
def image_encoder(name: str, threads: int = 2) -> ImageEncoder:
    if name == "efficientnet-lite2":
        from .image import EfficientNetLiteEncoder

        return EfficientNetLiteEncoder(threads=threads)
    if name.startswith("clip:"):
        return _clip(name.removeprefix("clip:"))
    raise ValueError(f"unknown image encoder {name!r} (try efficientnet-lite2 or clip:<model>)")


@lru_cache(maxsize=4)
def text_encoder(name: str, threads: int = 2) -> TextEncoder:
    if name == "use-multilingual":
        from .text import UniversalSentenceEncoder

        return UniversalSentenceEncoder(threads=threads)
    if name == "minilm":
        from .text import MiniLMEncoder

        return MiniLMEncoder(threads=threads)
    if name.startswith("st:"):
        from .text import MiniLMEncoder

        return MiniLMEncoder(source=name.removeprefix("st:"), threads=threads)
    if name.startswith("clip:"):
        return _clip(name.removeprefix("clip:"))
    raise ValueError(f"unknown text encoder {name!r} (try use-multilingual, minilm, st:<model>, clip:<model>)")


@lru_cache(maxsize=2)
def _clip(source: str):
    from .clip import ClipEncoder

    return ClipEncoder(source)
