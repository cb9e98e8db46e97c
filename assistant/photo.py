"""What is in a shopper's photo: finding the item in the picture, the views the image encoder sees, the
item's colour read from its own pixels, what the learned photo heads make of it (type, colour, gender,
usage) and whether a catalog photo shows the very product. `understanding.py` is the same for words."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from scipy import ndimage
from torch import nn

from .encoders.base import ImageEncoder, ModelFileError, TunableImageEncoder, load_checked, normalise, sha256_file

# Hue bins for coloured pixels and value bins for grey ones: the item's colour as a small histogram.
HUE_BINS, SAT_BINS, VAL_BINS, GREY_BINS = 12, 2, 2, 5
HIST_DIM = HUE_BINS * SAT_BINS * VAL_BINS + GREY_BINS


@dataclass(frozen=True)
class ItemSettings:
    """How the item is told from its background (defaults measured on shopper-style and real photos)."""

    side: int = 96  # the mask is found on a copy this size (longest side)
    border: float = 0.04  # the frame, as a share of the longest side, taken to be background
    colours: int = 3  # background colours modelled from the frame (a bed and a floor, a wall and a shadow)
    least_background: float = 0.2  # a frame colour covering less than this share of the frame is the item's
    spread: float = 3.0  # a pixel is the item when it is this many frame spreads from every background colour
    min_distance: float = 28.0  # ... and at least this far (RGB) from them
    min_coverage: float = 0.01  # an item smaller than this share of the picture is not trusted
    max_coverage: float = 0.9  # nor one that is nearly all of it (the item fills the frame: use the photo)
    pad: float = 0.06  # margin kept around the item's box
    light: float = 190.0  # a background whose colours are all at least this light is a studio's or a wall's:
    # the item is whitened in place, not cropped, so the photo keeps the catalog's framing
    flood: int = 20  # on such a background the query is also the photo with its background flood-filled to white
    # from the frame (summed channel difference to the seed colour at most this): dev photo R@10 0.985 -> 0.995


@dataclass
class Item:
    """The item found in a photo: its box in the photo, the share of the picture it covers, the item cut out on
    white (as catalog photos are shot) and the colour histogram of its own pixels."""

    box: tuple[int, int, int, int]
    coverage: float
    view: Image.Image
    colours: np.ndarray = field(repr=False)


def _frame(a: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate([a[:width].reshape(-1, 3), a[-width:].reshape(-1, 3),
                           a[:, :width].reshape(-1, 3), a[:, -width:].reshape(-1, 3)])


def _background_colours(frame: np.ndarray, k: int, least: float) -> np.ndarray:
    """Up to k colours summarising the frame (a few rounds of k-means from evenly spaced seeds: deterministic);
    a colour covering less than `least` of the frame is the item crossing it (legs cut by the bottom edge, a
    sleeve at the side), not background, and is dropped."""
    centres = frame[np.linspace(0, len(frame) - 1, k).astype(int)]
    for _ in range(8):
        label = ((frame[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        centres = np.stack([frame[label == j].mean(0) if (label == j).any() else centres[j] for j in range(k)])
    share = np.bincount(label, minlength=k) / len(frame)
    return centres[share >= min(least, share.max())]


def _distance(a: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[..., None, :] - centres) ** 2).sum(-1).min(-1))


def item_mask(image: Image.Image, cfg: ItemSettings = ItemSettings()) -> tuple[np.ndarray, np.ndarray, bool]:
    """(mask, small RGB copy, light background): which pixels of a small copy of the photo are the item, told
    from a background modelled by the colours of the photo's frame. Smoothing first makes textured surfaces
    (carpet, wood, noise) one colour; the mask keeps the large connected parts, holes filled."""
    w, h = image.size
    scale = cfg.side / max(w, h)
    small = image.convert("RGB").resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.BILINEAR)
    a = ndimage.gaussian_filter(np.asarray(small, np.float32), sigma=(1.2, 1.2, 0))
    frame = _frame(a, max(2, round(cfg.border * max(a.shape[:2]))))
    centres = _background_colours(frame, cfg.colours, cfg.least_background)
    spread = float(np.percentile(_distance(frame, centres), 90))
    mask = _distance(a, centres) > max(cfg.spread * spread, cfg.min_distance)
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(ndimage.binary_opening(mask), iterations=2))
    labels, n = ndimage.label(mask)
    if n:
        sizes = ndimage.sum(mask, labels, range(1, n + 1))
        mask = np.isin(labels, 1 + np.flatnonzero(sizes >= 0.15 * sizes.max()))
    return mask, np.asarray(small), bool(centres.min() >= cfg.light)


def whiten_background(image: Image.Image, threshold: int) -> Image.Image | None:
    """The photo with its plain light background (a wall, a grey sweep) flood-filled to white from the
    corners and edge midpoints, as catalog photos are shot; None when it has no such background (or it is
    white already). The fill is 4-connected within `threshold` summed channel difference of the seed colour."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    h, w, _ = rgb.shape
    seeds = [(y, x) for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (0, w // 2), (h - 1, w // 2),
                                 (h // 2, 0), (h // 2, w - 1))
             if rgb[y, x].min() > 150 and rgb[y, x].max() - rgb[y, x].min() < threshold
             and (255 - rgb[y, x]).sum() > threshold]
    if not seeds:
        return None
    filled = np.zeros((h, w), bool)
    for y, x in seeds:
        if not filled[y, x]:
            labels, _ = ndimage.label(np.abs(rgb - rgb[y, x]).sum(axis=2) <= threshold)
            filled |= labels == labels[y, x]
    out = rgb.astype(np.uint8)
    out[filled] = 255
    return Image.fromarray(out)


def colour_histogram(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The share of (masked) pixels in each colour bin: hue x saturation x value for coloured pixels, five
    grey levels for the rest. Sums to 1 (all zeros when no pixel is given)."""
    hsv = np.asarray(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).convert("HSV"), np.float32) / 255
    px = hsv.reshape(-1, 3) if mask is None else hsv[mask]
    if not len(px):
        return np.zeros(HIST_DIM, np.float32)
    hue, sat, val = px[:, 0], px[:, 1], px[:, 2]
    grey = (sat < 0.2) | (val < 0.15)
    coloured = (np.minimum((hue * HUE_BINS).astype(int), HUE_BINS - 1) * SAT_BINS * VAL_BINS
                + (sat >= 0.55) * VAL_BINS + (val >= 0.6))
    grey_bin = HUE_BINS * SAT_BINS * VAL_BINS + np.minimum((val * GREY_BINS).astype(int), GREY_BINS - 1)
    hist = np.bincount(np.where(grey, grey_bin, coloured), minlength=HIST_DIM).astype(np.float32)
    return hist / hist.sum()


def find_item(image: Image.Image, cfg: ItemSettings = ItemSettings()) -> Item | None:
    """The item in a photo, cut out on white and cropped to its box, or None when it cannot be told from
    its background with confidence (then the whole photo is used)."""
    mask, small, light = item_mask(image, cfg)
    coverage = float(mask.mean())
    if not cfg.min_coverage <= coverage <= cfg.max_coverage:
        return None
    w, h = image.size
    if light:  # on a light wall or a studio sweep: whitened where it stands
        alpha = Image.fromarray(mask.astype(np.uint8) * 255).resize(image.size, Image.BILINEAR)
        view = Image.composite(image.convert("RGB"), Image.new("RGB", image.size, (255, 255, 255)), alpha)
        return Item((0, 0, w, h), coverage, view, colour_histogram(small, mask))
    sy, sx = h / mask.shape[0], w / mask.shape[1]
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min() * sx, ys.min() * sy, (xs.max() + 1) * sx, (ys.max() + 1) * sy
    px, py = (x1 - x0) * cfg.pad, (y1 - y0) * cfg.pad
    box = (max(0, int(x0 - px)), max(0, int(y0 - py)), min(w, int(x1 + px + 1)), min(h, int(y1 + py + 1)))
    alpha = Image.fromarray(mask.astype(np.uint8) * 255).resize(image.size, Image.BILINEAR).crop(box)
    view = Image.composite(image.convert("RGB").crop(box), Image.new("RGB", alpha.size, (255, 255, 255)), alpha)
    return Item(box, coverage, view, colour_histogram(small, mask))


def _save(state: dict[str, torch.Tensor], card: PhotoCard | QueryCard, folder: Path, weights: str,
          card_name: str) -> None:
    """A trained model's weights (as `state` packs them) and its card, which records their SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / weights))
    card.weights_sha256 = sha256_file(folder / weights)
    (folder / card_name).write_text(json.dumps(asdict(card), indent=1, ensure_ascii=False) + "\n")


def half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors in float16: half the bytes to ship, loaded back into float32 parameters."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


SCALE = ".int8_scale"  # beside a weight stored as int8: its float32 scale per output channel


def pack_int8(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convolution and linear weights as int8 with a scale per output channel (symmetric: a channel's largest
    magnitude is 127), a quarter of their float32 bytes; other floating tensors (batch norm) in float16."""
    out = {}
    for k, v in state.items():
        if v.is_floating_point() and v.ndim >= 2:
            v = v.float()
            scale = v.abs().amax(dim=tuple(range(1, v.ndim)), keepdim=True).clamp_min(1e-12) / 127
            out[k], out[k + SCALE] = torch.round(v / scale).clamp(-127, 127).to(torch.int8), scale
        else:
            out[k] = v.half() if v.is_floating_point() else v
    return out


def unpack_int8(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state `pack_int8` made, as float32 tensors again (a state without int8 weights passes unchanged)."""
    return {k: v.float() * state[k + SCALE] if k + SCALE in state else v
            for k, v in state.items() if not k.endswith(SCALE)}


# -- the learned photo heads ----------------------------------------------------------------------------
PHOTO_WEIGHTS, PHOTO_CARD = "photo.safetensors", "photo_card.json"
INPUT_VERSION = 5  # raise when what `photo_input` reads changes (the feature cache keys its rows by it)
FACETS = ("article_type", "base_colour", "gender", "usage")
KIND_FACETS = ("article_type", "gender")  # what kind of product a photo shows: said from a lower confidence


@dataclass
class PhotoCard:
    """What the photo heads read and predict, how sure they must be, and how well they did; beside the weights."""

    image_encoder: str
    image_dim: int
    vocab: dict[str, list[str]]  # facet -> the catalog values it predicts
    hidden: int = 512
    claim_similarity: float = 1.0  # a catalog photo at least this close is called the very product
    seed: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""
    input_version: int = 4  # the `photo_input` they read (cards from before it was recorded read version 4)

    @property
    def input_dim(self) -> int:
        return 2 * self.image_dim + HIST_DIM + 1


def photo_input(item: np.ndarray, whole: np.ndarray, colours: np.ndarray, found: bool) -> np.ndarray:
    """What the heads read: the image features of the item cut out on white (of the whole photo when no item
    was found) and of the whole photo, the item's colour histogram, and whether an item was found. The whole
    photo's features say what a real photo shows better than the item's alone (a 10-class probe on the real
    photos' dev split: 0.91 against 0.79): the finder sometimes cuts the item short."""
    return np.concatenate([item, whole, colours, [1.0 if found else 0.0]]).astype(np.float32)


def item_colours(image: Image.Image, cfg: ItemSettings = ItemSettings()) -> np.ndarray:
    """The colour histogram of the item's pixels (of the middle of the photo when no item is found)."""
    item = find_item(image, cfg)
    return _middle_colours(image) if item is None else item.colours


def colour_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two colour histograms are: their Bhattacharyya coefficient (1 for the same colours, 0 for none
    shared)."""
    return float(np.sqrt(a * b).sum())


@dataclass(frozen=True)
class MatchSettings:
    """How a catalog photo is checked against a shopper's for the very product: the same details (SIFT keypoints
    of the grey levels, which a colour cast does not move) found in both, in the same places up to one plausible
    affine map (a view's scale, turn and tilt; not a squash). Defaults measured on
    shopper-style views of `train` products and `train` real photos (`scripts/claim_check.py`)."""

    side: int = 320  # photos are matched at this longest side at most
    ratio: float = 0.8  # a match counts when its descriptor is this much closer than the second-closest (Lowe)
    reprojection: float = 4.0  # px: a matched point this close to where the map puts it agrees with it
    max_stretch: float = 3.0  # the map's larger axis at most this many times its smaller
    scale: tuple[float, float] = (0.2, 5.0)  # the catalog photo at this scale of the shopper's, at most


@dataclass(frozen=True, eq=False)
class Details:
    """A photo's keypoints: where they are (x, y at the matched size) and their SIFT descriptors."""

    points: np.ndarray
    descriptors: np.ndarray


@dataclass(frozen=True)
class Match:
    """How a candidate's catalog photo matched a shopper's photo: which photo it is (a digest of its bytes: a
    product listed twice has the same photo) and its `matching_points`."""

    photo: str
    points: int


def details(image: Image.Image, cfg: MatchSettings = MatchSettings()) -> Details:
    """The keypoints of a photo's grey levels (none in a flat one)."""
    grey = image.convert("L")
    if max(grey.size) > cfg.side:
        grey.thumbnail((cfg.side, cfg.side), Image.BILINEAR)
    found, descriptors = cv2.SIFT_create().detectAndCompute(np.asarray(grey), None)
    if descriptors is None or not found:
        return Details(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    return Details(np.float32([k.pt for k in found]), descriptors)


def matching_points(a: Details, b: Details, cfg: MatchSettings = MatchSettings()) -> int:
    """How many distinct points of `b` one plausible affine map carries `a`'s matching keypoints onto: tens when
    both photos show the same product photo (re-shot, turned, smaller, colour-cast), a handful at most for two
    different things."""
    if len(a.points) < 4 or len(b.points) < 4:
        return 0
    try:
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a.descriptors, b.descriptors, k=2)
        good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < cfg.ratio * m[1].distance]
        if len(good) < 4:
            return 0
        src = a.points[[m.queryIdx for m in good]]
        dst = b.points[[m.trainIdx for m in good]]
        affine, inliers = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.reprojection)
    except cv2.error:  # keypoints OpenCV cannot use (another descriptor type): nothing matched
        return 0
    if affine is None or not np.isfinite(affine).all():
        return 0
    big, small = np.linalg.svd(affine[:, :2], compute_uv=False)
    if small <= 0 or big / small > cfg.max_stretch or not cfg.scale[0] <= np.sqrt(big * small) <= cfg.scale[1]:
        return 0
    return len({(round(float(x)), round(float(y))) for x, y in dst[inliers.ravel().astype(bool)]})


def same_photos(matches: Mapping[str, Match], least: int, rest: float) -> list[str]:
    """The products whose catalog photo a shopper's photo shows: those with the most matched photo, when it has
    at least `least` points and every other photo at most `rest` of its points (catalog photos of one model in
    one pose, each in other briefs, share the model's points: then none stands out). A product listed twice
    has the same photo, and both are claimed, in the candidates' order."""
    per_photo: dict[str, int] = {}
    for m in matches.values():
        per_photo[m.photo] = max(m.points, per_photo.get(m.photo, 0))
    ranked = sorted(per_photo.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < max(1, least):
        return []
    photo, best = ranked[0]
    if any(n > rest * best for _, n in ranked[1:]):
        return []
    return [pid for pid, m in matches.items() if m.photo == photo]


def _middle_colours(image: Image.Image) -> np.ndarray:
    w, h = image.size
    middle = image.convert("RGB").crop((w // 4, h // 4, w - w // 4, h - h // 4)).resize((48, 48), Image.BILINEAR)
    return colour_histogram(np.asarray(middle))


def photo_inputs(images: list[Image.Image], encoder: ImageEncoder, cfg: ItemSettings = ItemSettings()) -> np.ndarray:
    """The heads' input for each photo: its item found, cut out on white, and the photo, encoded in one batch."""
    items = [find_item(image, cfg) for image in images]
    found = [n for n, item in enumerate(items) if item is not None]
    feats = encoder.encode_image(list(images) + [items[n].view for n in found])
    item_feats = {n: feats[len(images) + j] for j, n in enumerate(found)}
    return np.stack([photo_input(item_feats.get(n, feats[n]), feats[n],
                                 _middle_colours(image) if item is None else item.colours, item is not None)
                     for n, (image, item) in enumerate(zip(images, items, strict=True))])


class PhotoHeads(nn.Module):
    """A shared layer over the photo's input and one classifier per facet."""

    def __init__(self, card: PhotoCard) -> None:
        super().__init__()
        self.card = card
        self.trunk = nn.Sequential(nn.Linear(card.input_dim, card.hidden), nn.GELU(), nn.Dropout(0.2))
        self.heads = nn.ModuleDict({f: nn.Linear(card.hidden, len(card.vocab[f])) for f in FACETS})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {f: head(h) for f, head in self.heads.items()}

    @torch.inference_mode()
    def probabilities(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self(torch.from_numpy(np.asarray(x, np.float32)))
        return {f: v.softmax(-1).numpy() for f, v in out.items()}

    def save(self, folder: str | Path) -> None:
        _save(half(self.state_dict()), self.card, Path(folder), PHOTO_WEIGHTS, PHOTO_CARD)

    @classmethod
    def load(cls, folder: str | Path) -> PhotoHeads | None:
        """The heads saved in a model folder; None when it has none (a model from before them)."""
        folder = Path(folder)
        if not (folder / PHOTO_WEIGHTS).is_file() and not (folder / PHOTO_CARD).is_file():
            return None
        if stale_heads(folder):
            raise ModelFileError(f"{folder / PHOTO_CARD}: the photo heads read an older photo input than this version "
                                 "of the assistant (run `python -m assistant train --photo-only`)")
        return load_checked(cls, PhotoCard, folder / PHOTO_WEIGHTS, folder / PHOTO_CARD)


def stale_heads(folder: str | Path) -> bool:
    """Whether a model folder's photo heads were trained on another `photo_input` than this code makes."""
    try:
        card = json.loads((Path(folder) / PHOTO_CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # missing or damaged: `load_checked` names the problem
    return isinstance(card, dict) and card.get("input_version", 4) != INPUT_VERSION


# -- the tuned query tail ---------------------------------------------------------------------------------
QUERY_WEIGHTS, QUERY_CARD = "photo_query.safetensors", "photo_query.json"


@dataclass
class QueryCard:
    """How the query tail was tuned and how well it did; beside its weights (int8 per output channel)."""

    image_encoder: str
    views: int = 0
    blocks: int = 1  # the encoder's last blocks tuned (with its head convolution)
    seed: int = 0
    temperature: float = 0.05
    claim_similarity: float = 1.0  # a tuned query this close to a catalog photo may call it the very product
    metrics: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""


class QueryTail(nn.Module):
    """The image encoder's last layers tuned so that an item cut out of a shopper's photo lands on its product's
    catalog photo (InfoNCE over the catalog's `train` photos, on shopper-style views); the catalog's photos keep
    the encoder as shipped. Only for encoders that can be split (`TunableImageEncoder`)."""

    def __init__(self, card: QueryCard, encoder: TunableImageEncoder) -> None:
        super().__init__()
        self.card = card
        self.tail = encoder.tail(card.blocks)  # starts as shipped

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        return self.tail(activations)

    @torch.inference_mode()
    def encode(self, activations: torch.Tensor) -> np.ndarray:
        return self(activations).numpy()

    def load_state_dict(self, state: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False) -> Any:
        """Loads a state as saved (int8 weights with their scales; float16 in tails from before them) or plain."""
        return super().load_state_dict(unpack_int8(dict(state)), strict, assign)

    def settle(self) -> QueryTail:
        """Round the weights to what `save` keeps (int8 per output channel), so what is measured after training
        is what ships."""
        self.load_state_dict(pack_int8(self.state_dict()))
        return self

    def save(self, folder: str | Path) -> None:
        _save(pack_int8(self.state_dict()), self.card, Path(folder), QUERY_WEIGHTS, QUERY_CARD)

    @classmethod
    def load(cls, folder: str | Path, encoder: ImageEncoder) -> QueryTail | None:
        """The tail saved in a model folder (int8 weights, used as float32); None when it has none or the
        encoder cannot be split."""
        folder = Path(folder)
        if not isinstance(encoder, TunableImageEncoder) or not (
                (folder / QUERY_WEIGHTS).is_file() or (folder / QUERY_CARD).is_file()):
            return None
        return load_checked(partial(cls, encoder=encoder), QueryCard, folder / QUERY_WEIGHTS, folder / QUERY_CARD)


@dataclass
class PhotoReading:
    """What a shopper's photo is: the vector searched among catalog photos, the probability of each catalog
    value per facet (empty without photo heads), and whether the item was found in the picture."""

    query: np.ndarray
    probabilities: dict[str, dict[str, float]]
    item_found: bool
    tuned: bool = False  # the query went through the tuned tail
    whole: np.ndarray | None = None  # the photo as it is, through the shipped encoder (when the query is not it)
    colours: np.ndarray | None = None  # the colour histogram of the item's own pixels (of the photo's middle)

    def as_it_is(self) -> PhotoReading:
        """The reading searched with the photo as it is: a catalog photo whose item touches the frame (a model's
        arms and legs cut by the edges) is not told from a busy background by the item finder, but the photo as
        it is finds its product at once."""
        return self if self.whole is None else replace(self, query=self.whole, tuned=False, whole=None)

    def likely(self, facet: str, mass: float, most: int) -> tuple[str, ...]:
        """The fewest values of a facet the heads give at least `mass` probability together, most likely first;
        none when that takes more than `most` values (or without heads)."""
        ranked = sorted(self.probabilities.get(facet, {}).items(), key=lambda kv: -kv[1])[:most]
        total = np.cumsum([p for _, p in ranked])
        enough = np.flatnonzero(total >= mass)
        return tuple(v for v, _ in ranked[: enough[0] + 1]) if len(enough) else ()

    def facets(self, confidence: float, kind_confidence: float | None = None) -> dict[str, str]:
        """The value of each facet the reading is at least `confidence` sure of (`kind_confidence` for the
        product's type and who it is for, when given)."""
        out = {}
        for facet, probs in self.probabilities.items():
            if not probs:
                continue
            value, p = max(probs.items(), key=lambda kv: kv[1])
            least = kind_confidence if kind_confidence is not None and facet in KIND_FACETS else confidence
            if p >= least:
                out[facet] = value
        return out

    def with_neighbours(self, votes: dict[str, dict[str, float]], weight: float,
                        gender_weight: float | None = None) -> PhotoReading:
        """The reading with each facet's probabilities moved `weight` of the way towards its nearest catalog
        photos' vote (0: the heads alone; 1: the vote alone), who it is for `gender_weight` of the way when
        given. A shopper's photo whose nearest catalog photo is nearly the same shows what that photo's product
        is better than the heads can say (dev shopper-style photos: type from the heads 0.82, from the vote 0.91,
        colour 0.47 / 0.65); a real photo of something not in the catalog has no such neighbour, and there the
        heads say its type far more often (0.90 against 0.52), while its nearest photos still say who wears it."""
        weights = {f: gender_weight if gender_weight is not None and f == "gender" else weight
                   for f in self.probabilities}
        if not self.probabilities or max(weights.values()) <= 0:
            return self
        mixed = {}
        for facet, probs in self.probabilities.items():
            vote, w = votes.get(facet, {}), weights[facet]
            mixed[facet] = {v: (1 - w) * probs.get(v, 0.0) + w * vote.get(v, 0.0)
                            for v in probs.keys() | vote.keys()}
        return replace(self, probabilities=mixed)


def read_photo(image: Image.Image, encoder: ImageEncoder, heads: PhotoHeads | None, tuned: QueryTail | None = None,
               cfg: ItemSettings = ItemSettings(), whole_weight: float = 0.0) -> PhotoReading:
    """Find the item, encode it and (with heads) say what it is from the item's and the photo's features. The
    query among the catalog's photos is the item's features on a busy background (through the tuned tail when
    there is one); on a light one (a wall, a studio sweep: the framing is the catalog's already) it is the photo
    as it is averaged with its background flood-filled white, as the catalog's own photos are best matched that
    way (a catalog photo finds itself at similarity 1; the whitened item alone: dev photo R@1 0.88 against 0.935).
    Through the tail, the whole photo's tuned query is added at `whole_weight`: a second crop that holds all of
    the item where the finder cut it short, at the cost of one more image through the tail's blocks."""
    item = find_item(image, cfg)
    light = item is not None and item.box == (0, 0, *image.size)
    white = whiten_background(image, cfg.flood) if light else None
    views = [image] + ([item.view] if item is not None else []) + ([white] if white is not None else [])
    use_tail = tuned is not None and item is not None and not light and isinstance(encoder, TunableImageEncoder)
    if use_tail:
        activations = encoder.trunk(views, tuned.card.blocks)  # one batch; the shipped and tuned tails both read it
        feats = encoder.finish(activations, tuned.card.blocks)
        if whole_weight:  # the item's and the whole photo's tuned queries, in one pass through the tail
            whole_query, item_query = tuned.encode(activations[:2])
            query = normalise(item_query + whole_weight * whole_query)
        else:
            query = tuned.encode(activations[1:2])[0]
    else:
        feats = encoder.encode_image(views)  # one batch
    whole, seen = feats[0], feats[1] if item is not None else feats[0]
    colours = _middle_colours(image) if item is None else item.colours
    x = photo_input(seen, whole, colours, item is not None)
    if not use_tail:
        query = normalise(whole + (feats[2] if white is not None else 0) if light else seen)
    as_it_is = normalise(whole) if item is not None and not light else None
    if heads is None:
        return PhotoReading(query, {}, item is not None, use_tail, as_it_is, colours)
    probs = heads.probabilities(x[None])
    return PhotoReading(query, {f: dict(zip(heads.card.vocab[f], map(float, p[0]), strict=True))
                                for f, p in probs.items()}, item is not None, use_tail, as_it_is, colours)
