"""Training the joint space: seeded reproducibility, what is written (safetensors + card), and the train split;
photo heads made for an older photo input are named and trained again at start."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_catalog
from safetensors.torch import load_file

from assistant.bootstrap import ensure_ready
from assistant.catalog import read_catalog
from assistant.config import Settings
from assistant.encoders.base import ModelFileError
from assistant.engine import Engine
from assistant.features import FeatureCache
from assistant.photo import INPUT_VERSION, PHOTO_CARD, PHOTO_WEIGHTS, QUERY_CARD, QUERY_WEIGHTS, PhotoHeads
from assistant.space import CARD, WEIGHTS, JointSpace
from assistant.train import load_training_data, train

pytestmark = pytest.mark.slow

N = 48


@pytest.fixture
def small(settings: Settings, slice_rows: list[dict], tmp_path: Path) -> tuple[Path, Settings]:
    """A 48-product catalog (features cached by the session), 3 quick epochs, its own model folder; the photo
    heads and the query tail on a few shopper-style views and real photos (what they learn is tested on the
    session's model)."""
    folder = write_catalog(tmp_path / "cat", slice_rows[:N])
    quick = replace(settings, catalog_dir=str(folder), data_dir=str(tmp_path / "data"), model_dir="",
                    index_dir="", train_epochs=3, train_batch=16, space_dim=32, photo_views=24, photo_epochs=3,
                    photo_query_strangers=24)
    return folder, quick


def weights(folder: Path, name: str = WEIGHTS) -> dict[str, torch.Tensor]:
    return load_file(str(folder / name))


def test_same_data_and_settings_give_identical_weights(small: tuple[Path, Settings], tmp_path: Path) -> None:
    folder, s = small
    train(read_catalog(folder), s, tmp_path / "m1")
    train(read_catalog(folder), s, tmp_path / "m2")
    for name in (WEIGHTS, PHOTO_WEIGHTS, QUERY_WEIGHTS):  # the joint space, the photo heads, the query tail
        a, b = weights(tmp_path / "m1", name), weights(tmp_path / "m2", name)
        assert a.keys() == b.keys() and a
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    a = weights(tmp_path / "m1")
    c1, c2 = (json.loads((tmp_path / m / CARD).read_text()) for m in ("m1", "m2"))
    assert c1["data_hash"] == c2["data_hash"] and c1["metrics"]["final_loss"] == c2["metrics"]["final_loss"]

    train(read_catalog(folder), replace(s, seed=1), tmp_path / "m3")
    c = weights(tmp_path / "m3")
    assert any(not torch.equal(a[k], c[k]) for k in a)  # the seed matters


def test_model_folder_holds_weights_and_card(small: tuple[Path, Settings], tmp_path: Path) -> None:
    folder, s = small
    model = train(read_catalog(folder), s, tmp_path / "model")
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {WEIGHTS, CARD} <= files
    card = json.loads((tmp_path / "model" / CARD).read_text())
    assert card["image_encoder"] == s.image_encoder == "efficientnet-lite2"
    assert card["text_encoder"] == s.text_encoder == "use-multilingual"
    assert (card["image_dim"], card["text_dim"], card["dim"]) == (1280, 512, 32)
    assert len(card["data_hash"]) == 40 and card["products"] == N and card["seed"] == s.seed
    assert {"final_loss", "train_seconds", "text_to_image_r10_train_sample"} <= set(card["metrics"])
    assert all(isinstance(v, float) for v in card["metrics"].values())
    loaded = JointSpace.load(tmp_path / "model")
    assert loaded.card == model.card
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert loaded.project_text(np.zeros((1, 512), np.float32)).shape == (1, 32)


def test_data_hash_follows_the_data(small: tuple[Path, Settings], slice_rows: list[dict], tmp_path: Path) -> None:
    folder, s = small
    h1 = train(read_catalog(folder), s, tmp_path / "a").card.data_hash
    rows = [dict(r) for r in slice_rows[:N]]
    rows[0]["title"] += " v2"
    other = write_catalog(tmp_path / "changed", rows)
    h2 = train(read_catalog(other), s, tmp_path / "b").card.data_hash
    assert h1 != h2


def test_trains_on_the_train_split_only(small: tuple[Path, Settings], slice_rows: list[dict], tmp_path: Path) -> None:
    _, s = small
    ids = [r["id"] for r in slice_rows[:N]]
    split = write_catalog(tmp_path / "split", slice_rows[:N], {"train": ids[:30], "dev": ids[30:]})
    with FeatureCache(s.cache_path / "features.sqlite") as cache:
        data = load_training_data(read_catalog(split), s, cache)
        assert [p.id for p in data.products] == ids[:30]
        assert data.image.shape[0] == data.full.shape[0] == data.short.shape[0] == 30
        assert train(read_catalog(split), s, tmp_path / "m").card.products == 30
        everything = load_training_data(read_catalog(tmp_path / "split" / "products.jsonl"), s, cache)
        assert len(everything.products) == 30  # the split file sits beside the catalog file either way
        (split / "splits.json").unlink()
        assert len(load_training_data(read_catalog(split), s, cache).products) == N


def test_unusable_photos_are_left_out_of_training(small: tuple[Path, Settings], slice_rows: list[dict],
                                                  tmp_path: Path) -> None:
    _, s = small
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    rows = [*slice_rows[:20], {**slice_rows[20], "image": str(tmp_path / "broken.jpg")}]
    cat = write_catalog(tmp_path / "cat2", rows)
    with FeatureCache(s.cache_path / "features.sqlite") as cache:
        data = load_training_data(read_catalog(cat), s, cache)
    assert len(data.products) == 20 and slice_rows[20]["id"] not in {p.id for p in data.products}


def test_photo_heads_for_an_older_photo_input_are_named_and_trained_again_at_start(engine: Engine, settings: Settings,
                                                                                  tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(settings.model_path, model)
    card = json.loads((model / PHOTO_CARD).read_text())
    del card["input_version"]  # as saved before it was recorded (version 4)
    (model / PHOTO_CARD).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="train --photo-only"):
        PhotoHeads.load(model)
    assert (model / QUERY_WEIGHTS).is_file()
    quick = replace(settings, model_dir=str(model), index_dir=str(settings.index_path), photo_views=16, photo_epochs=2,
                    photo_query_views=0)
    ready = ensure_ready(quick)
    assert ready.photo_heads is not None and ready.photo_heads.card.input_version == INPUT_VERSION
    assert json.loads((model / PHOTO_CARD).read_text())["input_version"] == INPUT_VERSION
    # trained without a query tail: the old one is not left behind to be used with heads it was not made with
    assert ready.query_tail is None and not (model / QUERY_WEIGHTS).exists() and not (model / QUERY_CARD).exists()
