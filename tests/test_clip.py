"""The hub-CLIP encoder ("clip:<folder>") on a tiny randomly initialised CLIP saved locally: loading through the
registry, shapes, normalisation, determinism, damaged files, and training the joint space on it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import fashion_rows, write_catalog
from PIL import Image

from assistant.encoders import ModelFileError, image_encoder, text_encoder
from assistant.encoders.clip import ClipEncoder

PROJECTION = 16


def _byte_alphabet() -> list[str]:
    """GPT-2 / CLIP byte-level alphabet: one printable character per byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_tiny_clip(folder: Path) -> Path:
    """A 2-layer CLIP (32-px images, 16-d projection) with a byte-level BPE vocabulary, saved with
    save_pretrained next to its tokenizer and image processor."""
    import torch
    import transformers
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    merges = [("b", "l"), ("bl", "a"), ("r", "e"), ("e", "d</w>"), ("s", "h"), ("o", "e")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))

    eos = vocab["<|endoftext|>"]
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "max_position_embeddings": 77, "bos_token_id": vocab["<|startoftext|>"],
                     "eos_token_id": eos, "pad_token_id": eos},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 48,
                       "num_hidden_layers": 2, "num_attention_heads": 4},
        projection_dim=PROJECTION)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(str(folder))
    processor_cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    processor_cls(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip") / "clip")


def _photos() -> list[Image.Image]:
    tall = Image.new("RGB", (168, 224), (250, 250, 250))
    tall.paste((20, 20, 160), (40, 60, 128, 180))
    return [tall, Image.new("RGB", (300, 120), (200, 30, 30)), Image.new("L", (50, 50), 128),
            Image.new("RGBA", (64, 64), (0, 128, 0, 100))]


def test_registry_loads_one_clip_for_text_and_images(tiny_clip: Path) -> None:
    name = f"clip:{tiny_clip}"
    img, txt = image_encoder(name), text_encoder(name)
    assert img is txt  # one model in memory serves both sides
    assert img.name == name and img.dim == PROJECTION


def test_text_vectors(tiny_clip: Path) -> None:
    enc = text_encoder(f"clip:{tiny_clip}")
    texts = ["black heels for women", "a red shirt", "黑色高跟鞋", "x " * 2000]  # the last one is cut at 77 tokens
    out = enc.encode_text(texts)
    assert out.shape == (4, PROJECTION) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(out))
    assert not np.allclose(out[0], out[1])
    np.testing.assert_array_equal(out, enc.encode_text(texts))  # deterministic
    np.testing.assert_allclose(enc.encode_text(texts[:1])[0], out[0], atol=1e-5)  # batch-independent
    assert enc.encode_text([]).shape == (0, PROJECTION)


def test_image_vectors(tiny_clip: Path) -> None:
    enc = image_encoder(f"clip:{tiny_clip}")
    photos = _photos()
    out = enc.encode_image(photos)
    assert out.shape == (len(photos), PROJECTION) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(out[0], out[1])
    np.testing.assert_array_equal(out, enc.encode_image(photos))
    np.testing.assert_allclose(enc.encode_image(photos[1:2])[0], out[1], atol=1e-5)
    assert enc.encode_image([]).shape == (0, PROJECTION)


def _copy(tiny_clip: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_clip, tmp_path / "clip"))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing"])
def test_damaged_weights_give_model_file_error(tiny_clip: Path, tmp_path: Path, damage: str) -> None:
    folder = _copy(tiny_clip, tmp_path)
    weights = folder / "model.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    elif damage == "garbage":
        weights.write_bytes(b"not a safetensors file at all" * 10)
    elif damage == "empty":
        weights.write_bytes(b"")
    else:
        weights.unlink()
    with pytest.raises(ModelFileError, match=re.escape("model.safetensors")):
        ClipEncoder(str(folder))


@pytest.mark.parametrize("name", ["config.json", "preprocessor_config.json"])
def test_missing_config_named(tiny_clip: Path, tmp_path: Path, name: str) -> None:
    folder = _copy(tiny_clip, tmp_path)
    (folder / name).unlink()
    with pytest.raises(ModelFileError, match=re.escape(name)):
        ClipEncoder(str(folder))


def test_missing_tokenizer_named(tiny_clip: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_clip, tmp_path)
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.json").write_text("")
    with pytest.raises(ModelFileError, match=re.escape("vocab.json")):
        ClipEncoder(str(folder))


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="missing"):
        image_encoder(f"clip:{tmp_path / 'nowhere'}")


def test_joint_space_trains_on_tiny_clip(tiny_clip: Path, tmp_path: Path) -> None:
    """The learned space trains and searches with a hub CLIP as both encoders (here: the tiny one)."""
    from assistant.catalog import read_catalog
    from assistant.config import Settings
    from assistant.engine import Engine
    from assistant.features import FeatureCache
    from assistant.index import ProductIndex
    from assistant.ingest import ingest
    from assistant.space import JointSpace
    from assistant.train import fit, load_training_data, train

    rows = [r for r in fashion_rows() if r["article_type"] in ("Tshirts", "Heels", "Watches")][:12]
    catalog_dir = write_catalog(tmp_path / "catalog", rows)
    name = f"clip:{tiny_clip}"
    settings = Settings(catalog_dir=str(catalog_dir), data_dir=str(tmp_path / "data"), image_encoder=name,
                        text_encoder=name, space_dim=8, train_epochs=3, train_batch=8, real_photos_dir="",
                        photo_views=12, photo_min_examples=1, photo_epochs=2)
    catalog = read_catalog(catalog_dir)
    with FeatureCache(settings.cache_path / "features.sqlite") as cache:
        data = load_training_data(catalog, settings, cache)
    assert data.image.shape == (12, PROJECTION) and data.full.shape == (12, PROJECTION)
    space = fit(data, settings)
    assert space.card.image_encoder == name and space.card.text_encoder == name
    assert space.card.image_dim == PROJECTION and space.card.text_dim == PROJECTION and space.card.dim == 8
    assert np.isfinite(space.card.metrics["final_loss"])

    train(catalog, settings, settings.model_path)
    loaded = JointSpace.load(settings.model_path)
    assert loaded.card.image_encoder == name
    index = ProductIndex(settings.index_path)
    report = ingest([catalog_dir], loaded, index, settings)
    assert report.added == 12 and not report.problems
    engine = Engine(settings, space=loaded, index=index)
    result = engine.search(text="watch", top_k=5)
    assert len(result.hits) == 5
    photo = engine.search(image=catalog.products[0].image, top_k=3)
    assert photo.ids[0] == catalog.products[0].id


def test_unknown_hub_model_gives_model_file_error() -> None:
    with pytest.raises(ModelFileError, match="no-such-org/no-such-clip"):
        ClipEncoder("no-such-org/no-such-clip")
