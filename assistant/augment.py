"""Shopper-style views of catalog photos, for training the photo heads: the product cut out of its white
studio background and laid on a surface (a coloured, textured one, or a patch of a real photo's floor or
bed), smaller, turned, in other light, blurred and JPEG-compressed, as shoppers' phones take them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage


@dataclass(frozen=True)
class ViewSettings:
    size: int = 320  # the view's side, as a phone photo resized for upload
    scale: tuple[float, float] = (0.35, 0.9)  # the product's longest side, as a share of the view
    turn: float = 25.0  # degrees either way
    cast: float = 0.2  # per-channel gain either way (white balance)
    light: tuple[float, float] = (0.7, 1.2)
    blur: float = 1.5  # at most, on half the views
    quality: tuple[int, int] = (25, 85)  # JPEG
    real_surface: float = 0.4  # share of views laid on a patch of a real photo (when some are given)


def cut_out(photo: Image.Image, threshold: int = 24) -> Image.Image:
    """A catalog photo as RGBA: its white background (near-white pixels reached from the border) transparent."""
    rgb = np.asarray(photo.convert("RGB"), np.int16)
    labels, _ = ndimage.label((255 - rgb).sum(-1) <= threshold)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    alpha = ndimage.gaussian_filter((~np.isin(labels, edge[edge > 0])).astype(np.float32), 0.7)
    return Image.fromarray(np.dstack([rgb.astype(np.uint8), (alpha * 255).astype(np.uint8)]), "RGBA")


def surface(rng: np.random.Generator, size: int, patches: Sequence[Image.Image] = (), real_share: float = 0.4
            ) -> Image.Image:
    """Something to lay a product on: a corner of a real photo (floor, bed, door), or a coloured surface with
    slow shading and grain."""
    if patches and rng.random() < real_share:
        photo = patches[int(rng.integers(len(patches)))]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.25, 0.45)), int(h * rng.uniform(0.25, 0.45))
        x = 0 if rng.random() < 0.5 else w - cw
        y = 0 if rng.random() < 0.5 else h - ch
        return photo.crop((x, y, x + cw, y + ch)).resize((size, size), Image.BILINEAR)
    base = rng.uniform(40, 230, 3)
    shade = ndimage.zoom(rng.normal(0, rng.uniform(0, 25), (4, 4, 3)), (size / 4, size / 4, 1), order=1)
    grain = rng.normal(0, rng.uniform(2, 14), (size, size, 3))
    return Image.fromarray(np.clip(base + shade[:size, :size] + grain, 0, 255).astype(np.uint8))


def shopper_view(photo: Image.Image, rng: np.random.Generator, patches: Sequence[Image.Image] = (),
                 cfg: ViewSettings = ViewSettings()) -> Image.Image:
    """One shopper-style view of a catalog photo (seeded by `rng`)."""
    item = cut_out(photo)
    view = surface(rng, cfg.size, patches, cfg.real_surface)
    f = rng.uniform(*cfg.scale) * cfg.size / max(item.size)
    item = item.resize((max(4, int(item.width * f)), max(4, int(item.height * f))), Image.BICUBIC)
    item = item.rotate(rng.uniform(-cfg.turn, cfg.turn), expand=True, resample=Image.BICUBIC)
    view.paste(item, (int(rng.integers(0, max(1, cfg.size - item.width + 1))),
                      int(rng.integers(0, max(1, cfg.size - item.height + 1)))), item)
    gain = rng.uniform(1 - cfg.cast, 1 + cfg.cast, 3) * rng.uniform(*cfg.light)
    view = Image.fromarray(np.clip(np.asarray(view, np.float32) * gain, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        view = view.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, cfg.blur)))
    buffer = io.BytesIO()
    view.save(buffer, "JPEG", quality=int(rng.integers(*cfg.quality)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
