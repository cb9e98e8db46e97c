"""Photo understanding on small real images: the item is found on the surfaces shoppers use, its colour is read
from its own pixels, shopper-style views are what they claim to be, the claim threshold is calibrated as
documented and the very product is told from look-alikes by the details both photos show; the image encoder
splits into a trunk and a tail that tunes and saves. Fast: the one model loaded is the shipped EfficientNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FASHION, REAL_PHOTOS
from PIL import Image
from safetensors.torch import load_file

from assistant.augment import cut_out, shopper_view, surface
from assistant.encoders import image_encoder
from assistant.encoders.base import ModelFileError, TunableImageEncoder, normalise
from assistant.photo import (
    HIST_DIM,
    HUE_BINS,
    QUERY_WEIGHTS,
    SAT_BINS,
    SCALE,
    VAL_BINS,
    Details,
    Match,
    PhotoReading,
    QueryCard,
    QueryTail,
    colour_agreement,
    colour_histogram,
    details,
    find_item,
    item_colours,
    matching_points,
    pack_int8,
    read_photo,
    same_photos,
    unpack_int8,
)
from assistant.train_photo import claim_threshold

RED_BAG, GREEN_BAG, YELLOW_TEE, GREEN_TEE_WORN = "10203", "10196", "10013", "10046"


def photo(pid: str) -> Image.Image:
    return Image.open(FASHION / "images" / f"{pid}.jpg").convert("RGB")


def laid_on(item: Image.Image, ground: Image.Image, at: tuple[int, int], scale: float) -> tuple[Image.Image, tuple]:
    """A catalog product cut out and laid on a surface; returns the picture and the product's box in it."""
    rgba = cut_out(item)
    rgba = rgba.resize((int(rgba.width * scale), int(rgba.height * scale)))
    out = ground.copy()
    out.paste(rgba, at, rgba)
    x0, y0, x1, y1 = rgba.getchannel("A").point(lambda a: 255 if a > 128 else 0).getbbox()
    return out, (at[0] + x0, at[1] + y0, at[0] + x1, at[1] + y1)


def iou(a: tuple, b: tuple) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def covered(a: tuple, b: tuple) -> float:
    """The share of box a inside box b."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]))


def hue_share(hist: np.ndarray, lo: float, hi: float) -> float:
    """The share of pixels whose hue is in [lo, hi) (0-1 around the wheel), any saturation and value."""
    per_hue = hist[: HUE_BINS * SAT_BINS * VAL_BINS].reshape(HUE_BINS, SAT_BINS * VAL_BINS).sum(1)
    centres = (np.arange(HUE_BINS) + 0.5) / HUE_BINS
    return float(per_hue[(centres >= lo) & (centres < hi)].sum())


@pytest.mark.parametrize(("pid", "ground", "at", "scale"), [
    (RED_BAG, (90, 140, 200), (120, 60), 0.8),  # small, on a blue textured surface
    (YELLOW_TEE, (70, 110, 60), (10, 150), 0.7),  # off-centre, on green
    (GREEN_TEE_WORN, (200, 150, 170), (160, 20), 0.9),  # worn by a model, on pink
])
def test_the_item_is_found_on_a_textured_surface(pid: str, ground: tuple, at: tuple, scale: float) -> None:
    rng = np.random.default_rng(3)
    base = np.clip(np.array(ground) + rng.normal(0, 10, (320, 320, 3)), 0, 255).astype(np.uint8)
    picture, box = laid_on(photo(pid), Image.fromarray(base), at, scale)
    item = find_item(picture)
    assert item is not None
    assert covered(box, item.box) > 0.95 and iou(item.box, box) > 0.65, (item.box, box)  # the product, a margin
    assert item.view.getpixel((0, 0)) == (255, 255, 255)  # cut out on white, as catalog photos are
    assert picture.getpixel((0, 0)) != (255, 255, 255)  # the shopper's photo itself is left as it was


def test_no_item_is_claimed_in_a_plain_surface_or_a_photo_filled_by_it() -> None:
    assert find_item(Image.new("RGB", (200, 160), (120, 80, 60))) is None
    rng = np.random.default_rng(0)
    assert find_item(surface(rng, 256)) is None  # grain and shading only
    close_up = photo(RED_BAG).crop((30, 60, 140, 170)).resize((300, 300))  # the bag's leather fills the frame
    assert find_item(close_up) is None


def test_colour_is_read_from_the_item_not_the_surface() -> None:
    orange = Image.new("RGB", (320, 320), (230, 140, 40))
    for pid, lo, hi in ((GREEN_BAG, 0.2, 0.5), (RED_BAG, -1, 0.06)):
        picture, _ = laid_on(photo(pid), orange, (90, 80), 0.7)
        item = item_colours(picture)
        whole = colour_histogram(np.asarray(picture))
        share = hue_share(item, lo, hi) + (hue_share(item, 0.94, 2) if lo < 0 else 0)
        assert share > 0.5, share  # the bag's own colour dominates what is read
        assert hue_share(whole, 0.05, 0.2) > 0.5  # while the picture as a whole is mostly orange


def test_colour_agreement_is_one_for_the_same_colours_and_zero_for_none_shared() -> None:
    red, blue = (np.tile(np.array([[c]], np.uint8), (8, 8, 1)) for c in ([200, 30, 40], [30, 40, 200]))
    half = np.concatenate([red[:4], blue[4:]])
    assert colour_agreement(colour_histogram(red), colour_histogram(red)) == pytest.approx(1.0)
    assert colour_agreement(colour_histogram(red), colour_histogram(blue)) == 0.0
    assert colour_agreement(colour_histogram(red), colour_histogram(half)) == pytest.approx(np.sqrt(0.5))


def test_colour_histogram_is_a_distribution_over_fixed_bins() -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = (255, 0, 0)  # red
    rgb[2:] = (250, 250, 250)  # near white: a grey level
    hist = colour_histogram(rgb)
    assert hist.shape == (HIST_DIM,) and hist.sum() == pytest.approx(1.0)
    assert hue_share(hist, 0, 1) == pytest.approx(0.5) and hist[-1] == pytest.approx(0.5)
    assert colour_histogram(rgb, np.zeros((4, 4), bool)).sum() == 0


def test_shopper_views_are_seeded_and_look_like_phone_photos() -> None:
    a = shopper_view(photo(YELLOW_TEE), np.random.default_rng(5))
    b = shopper_view(photo(YELLOW_TEE), np.random.default_rng(5))
    c = shopper_view(photo(YELLOW_TEE), np.random.default_rng(6))
    assert np.array_equal(np.asarray(a), np.asarray(b)) and not np.array_equal(np.asarray(a), np.asarray(c))
    assert a.size == (320, 320)
    assert np.asarray(a)[:8].mean(axis=(0, 1)).min() < 240  # not on white any more
    assert find_item(a) is not None


def test_claim_threshold_keeps_claims_right_and_strangers_out() -> None:
    # views of catalog products: similar ones are right, a few are near misses at middling similarity
    sims = np.array([0.95, 0.93, 0.9, 0.88, 0.86, 0.8, 0.78, 0.7, 0.6])
    right = np.array([1, 1, 1, 1, 1, 0, 1, 0, 0], np.float32)
    strangers = np.linspace(0.3, 0.75, 100)  # photos of things not in the catalog
    t = claim_threshold(sims, right, strangers, precision=0.97, stranger_rate=0.01)
    assert t == pytest.approx(0.86)  # the lowest similarity with every claim above it right
    assert (strangers >= t).mean() <= 0.01
    t2 = claim_threshold(sims, right, np.linspace(0.5, 0.92, 100), precision=0.97, stranger_rate=0.01)
    assert t2 > 0.9 and (np.linspace(0.5, 0.92, 100) >= t2).mean() <= 0.01  # strangers raise it
    assert claim_threshold(sims, np.zeros_like(right), strangers, 0.97, 0.01) == 1.0  # never right: never claim


# catalog photos of other products that look alike: two checked shirts, and briefs worn by one model in one pose
CHECK_SHIRTS, SAME_MODEL_BRIEFS = ("11114", "12952", "13853"), ("15780", "15768", "15816")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_shopper_style_view_shows_its_own_catalog_photos_details_not_a_lookalikes(seed: int) -> None:
    """Re-shot smaller, turned, colour-cast, blurred and JPEG-compressed on a textured surface, a catalog photo
    still shows its own details in place; a look-alike's photo (another checked shirt) shows a handful at most."""
    rng = np.random.default_rng(seed)
    own, *others = CHECK_SHIRTS
    view = details(shopper_view(photo(own), rng, [surface(rng, 320)]))
    mine = matching_points(view, details(photo(own)))
    theirs = [matching_points(view, details(photo(pid))) for pid in others]
    assert mine >= 12 and max(theirs) <= 6, (mine, theirs)


def test_photos_of_unrelated_things_share_no_details() -> None:
    real = Image.open(sorted((REAL_PHOTOS / "images").glob("*.jpg"))[5]).convert("RGB")
    assert matching_points(details(real), details(photo(CHECK_SHIRTS[0]))) <= 6
    flat = details(Image.new("RGB", (200, 200), (120, 30, 40)))
    assert len(flat.points) == 0 and matching_points(flat, details(photo(YELLOW_TEE))) == 0
    assert isinstance(flat, Details) and flat.points.shape == (0, 2) and flat.descriptors.shape == (0, 128)
    for size in ((1, 1), (7, 7), (5000, 10)):  # too small, or squashed to a line at the matching size
        tiny = details(Image.new("RGB", size, (10, 200, 30)))
        assert tiny.points.shape == (0, 2) and matching_points(tiny, tiny) == 0


def test_a_large_photo_is_matched_at_the_matching_size() -> None:
    big = photo(YELLOW_TEE).resize((1344, 1792))
    found = details(big)
    assert found.points.max() <= 320 and len(found.points) > 0
    assert matching_points(found, details(photo(YELLOW_TEE))) >= 12


def test_the_same_photo_is_claimed_only_when_one_photo_stands_out() -> None:
    def ms(**points: int) -> dict[str, Match]:  # each product its own photo
        return {pid: Match(pid, n) for pid, n in points.items()}

    assert same_photos(ms(a=40, b=3, c=0), least=8, rest=0.7) == ["a"]
    assert same_photos(ms(a=7, b=1), least=8, rest=0.7) == []  # too few points
    assert same_photos(ms(a=30, b=21), least=8, rest=0.7) == ["a"]  # the rest at most 0.7 of the best
    # one model in one pose, in other briefs: the pose matches them all, so none is the photo's
    assert same_photos(ms(red=22, navy=19, striped=17, c=2), least=8, rest=0.7) == []
    assert same_photos(ms(red=22, navy=21), least=8, rest=0.7) == []  # two different photos nearly tied: neither
    # a product listed twice has one photo: both listings are claimed, in the candidates' order
    twice = {"b": Match("p2", 3), "twin": Match("p1", 30), "a": Match("p1", 30)}
    assert same_photos(twice, least=8, rest=0.7) == ["twin", "a"]
    assert same_photos({}, least=8, rest=0.7) == []
    assert same_photos(ms(a=0, b=0), least=0, rest=0.7) == []  # nothing matched is never a claim


def test_one_model_in_one_pose_matches_but_is_not_claimed() -> None:
    """Catalog photos of briefs worn by one model in one pose share the model's details: the pose alone makes
    each of them match a view of one, so the rule claims none of them unless one stands out."""
    rng = np.random.default_rng(4)
    view = details(shopper_view(photo(SAME_MODEL_BRIEFS[-1]), rng, [surface(rng, 320)]))
    points = {pid: Match(pid, matching_points(view, details(photo(pid)))) for pid in SAME_MODEL_BRIEFS}
    assert min(m.points for m in points.values()) >= 12, points  # the model's body matches in every photo
    claimed = same_photos(points, least=8, rest=0.7)
    assert claimed in ([], [SAME_MODEL_BRIEFS[-1]]), points  # never another pair of briefs


def test_a_reading_moves_towards_its_neighbours_vote_and_says_the_kind_sooner() -> None:
    heads = {"article_type": {"Tshirts": 0.45, "Tops": 0.35, "Shirts": 0.2},
             "base_colour": {"Purple": 0.4, "Black": 0.6}, "gender": {"Men": 0.4, "Women": 0.6}}
    reading = PhotoReading(np.zeros(4, np.float32), heads, item_found=True)
    vote = {"article_type": {"Tops": 1.0}, "base_colour": {"Purple": 0.8, "Blue": 0.2}}
    assert reading.with_neighbours(vote, 0.0) is reading  # no close neighbour: the heads alone
    half = reading.with_neighbours(vote, 0.5)
    assert half.probabilities["article_type"] == pytest.approx({"Tshirts": 0.225, "Tops": 0.675, "Shirts": 0.1})
    assert half.probabilities["base_colour"] == pytest.approx({"Purple": 0.6, "Black": 0.3, "Blue": 0.1})
    assert half.probabilities["gender"] == pytest.approx({"Men": 0.2, "Women": 0.3})  # no vote: only shrunk
    assert sum(half.probabilities["article_type"].values()) == pytest.approx(1.0)
    assert reading.with_neighbours(vote, 1.0).facets(0.5) == {"article_type": "Tops", "base_colour": "Purple"}
    # who it is for may follow the nearest photos sooner than the type and the colour
    vote["gender"] = {"Men": 1.0}
    men = reading.with_neighbours(vote, 0.0, gender_weight=1.0)
    assert men.probabilities["article_type"] == heads["article_type"]
    assert men.probabilities["base_colour"] == pytest.approx({"Purple": 0.4, "Black": 0.6, "Blue": 0.0})
    assert men.probabilities["gender"] == pytest.approx({"Men": 1.0, "Women": 0.0})
    assert reading.with_neighbours(vote, 0.0, gender_weight=0.0) is reading
    # the type and who it is for are said from a lower confidence than the colour
    assert reading.facets(0.5) == {"base_colour": "Black", "gender": "Women"}
    assert reading.facets(0.65, kind_confidence=0.4) == {"article_type": "Tshirts", "gender": "Women"}


def test_the_encoder_splits_into_a_trunk_and_a_tail_with_the_same_features() -> None:
    encoder = image_encoder("efficientnet-lite2")
    assert isinstance(encoder, TunableImageEncoder)
    images = [photo(RED_BAG), shopper_view(photo(YELLOW_TEE), np.random.default_rng(1))]
    shipped = encoder.encode_image(images)
    # it encodes with its batch norms folded into the convolutions: the packaged model's features, unfolded
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.fast.modules())
    with torch.inference_mode():
        unfolded = encoder.model.extract_features(encoder._tensor(images)).mean(dim=(2, 3)).numpy()
    assert np.allclose(shipped, unfolded / np.linalg.norm(unfolded, axis=1, keepdims=True), atol=1e-5)
    for blocks in (1, 2, 3):  # wherever it is split
        activations = encoder.trunk(images, blocks)
        assert np.allclose(encoder.finish(activations, blocks), shipped, atol=1e-5)
        with torch.inference_mode():
            assert np.allclose(encoder.tail(blocks).eval()(activations).numpy(), shipped, atol=1e-5)
    with torch.inference_mode():
        assert not torch.allclose(encoder.trunk(images, 2), encoder.trunk(images))  # two blocks start earlier


def test_through_the_tail_the_whole_photo_is_a_second_crop_of_the_query() -> None:
    """A shopper's photo on a busy background is searched with the item's tuned query plus the whole photo's at
    `whole_weight` (0: the item's alone); what the heads read is the same either way."""
    encoder = image_encoder("efficientnet-lite2")
    tail = QueryTail(QueryCard(image_encoder=encoder.name, views=2, blocks=2), encoder)  # untuned: shipped features
    base = np.clip(np.array((90, 140, 200)) + np.random.default_rng(3).normal(0, 10, (320, 320, 3)), 0, 255)
    picture, _ = laid_on(photo(YELLOW_TEE), Image.fromarray(base.astype(np.uint8)), (10, 150), 0.7)
    item = find_item(picture)
    assert item is not None
    whole, seen = encoder.encode_image([picture, item.view])
    alone = read_photo(picture, encoder, None, tail)
    assert alone.tuned and np.allclose(alone.query, seen, atol=1e-4)
    both = read_photo(picture, encoder, None, tail, whole_weight=0.5)
    assert both.tuned and np.allclose(both.query, normalise(seen + 0.5 * whole), atol=1e-4)
    assert np.allclose(both.whole, alone.whole) and not np.allclose(both.query, alone.query, atol=1e-3)


def test_a_query_tail_saves_in_int8_and_loads_checked(tmp_path) -> None:
    encoder = image_encoder("efficientnet-lite2")
    tail = QueryTail(QueryCard(image_encoder=encoder.name, views=3, blocks=3), encoder)
    with torch.no_grad():
        tail.tail.head.weight.mul_(1.5)  # as tuning would change it
    tail.save(tmp_path)
    loaded = QueryTail.load(tmp_path, encoder)
    assert loaded is not None and loaded.card.views == 3 and loaded.card.blocks == 3 and loaded.card.weights_sha256
    x = encoder.trunk([photo(RED_BAG)], 3)
    assert np.allclose(loaded.encode(x), tail.encode(x), atol=2e-2)  # int8 weights
    saved = load_file(str(tmp_path / QUERY_WEIGHTS))
    assert saved["tail.head.weight"].dtype == torch.int8
    assert np.array_equal(loaded.encode(x), tail.settle().encode(x))  # `settle` keeps what `save` keeps
    assert not np.allclose(loaded.encode(x), encoder.finish(x, 3), atol=2e-2)
    w = tail.tail.head.weight.detach()
    packed = pack_int8({"w": w, "bias": torch.ones(3)})
    assert packed["bias"].dtype == torch.float16  # batch norm and biases: float16
    back = unpack_int8(packed)
    assert set(back) == {"w", "bias"} and (back["w"] - w).abs().max() <= packed["w" + SCALE].max() / 2 + 1e-7
    assert unpack_int8({"w": w.half()})["w"].dtype == torch.float16  # a float16 tail from before int8 loads as it was
    assert QueryTail.load(tmp_path / "none", encoder) is None
    (tmp_path / QUERY_WEIGHTS).write_bytes(b"broken")
    with pytest.raises(ModelFileError, match=QUERY_WEIGHTS):
        QueryTail.load(tmp_path, encoder)
