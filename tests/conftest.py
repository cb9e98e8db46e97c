"""Shared fixtures: a slice of the real catalog, a space trained on it with the real encoders, a real
embedded Chroma index, and an engine over them (built once per test session)."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from assistant.config import Settings
from bench.scale import ChromaServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FASHION = SHARED / "datasets" / "fashion"
DEV = SHARED / "eval" / "fashion-dev"
REAL_PHOTOS = SHARED / "datasets" / "real-photos"
SLICE_SIZE = int(os.environ.get("TEST_SLICE_SIZE", "480"))


def write_catalog(folder: Path, rows: list[dict], splits: dict | None = None) -> Path:
    """A catalog folder whose image paths point at the shared photos."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "products.jsonl").open("w") as f:
        for r in rows:
            r = dict(r)
            if not str(r.get("image", "")).startswith(("/", "http")) and r.get("image"):
                r["image"] = str(FASHION / r["image"])
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    if splits:
        (folder / "splits.json").write_text(json.dumps(splits))
    return folder


def fashion_rows() -> list[dict]:
    return [json.loads(line) for line in (FASHION / "products.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def slice_rows() -> list[dict]:
    """A deterministic, varied slice of the real catalog (mixed types, genders and colours)."""
    rows = fashion_rows()
    random.Random(7).shuffle(rows)
    return rows[:SLICE_SIZE]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def slice_catalog(workdir: Path, slice_rows: list[dict]) -> Path:
    ids = [r["id"] for r in slice_rows]
    return write_catalog(workdir / "catalog", slice_rows, {"train": ids[: len(ids) * 4 // 5], "dev": ids[len(ids) * 4 // 5:]})


@pytest.fixture(scope="session")
def real_photos_slice(workdir: Path) -> Path:
    """A real-photos folder (its format: labels.jsonl + splits.json) of 24 `train` photos per class, for the
    photo heads trained on the slice."""
    train = set(json.loads((REAL_PHOTOS / "splits.json").read_text())["train"])
    rows = [json.loads(line) for line in (REAL_PHOTOS / "labels.jsonl").read_text().splitlines() if line.strip()]
    picked: list[dict] = []
    for cls in sorted({r["class"] for r in rows}):
        picked += [dict(r, image=str(REAL_PHOTOS / r["image"])) for r in rows if r["class"] == cls and r["id"] in train][:24]
    folder = workdir / "real-photos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked))
    (folder / "splits.json").write_text(json.dumps({"train": [r["id"] for r in picked], "dev": []}))
    return folder


@pytest.fixture(scope="session")
def settings(workdir: Path, slice_catalog: Path, real_photos_slice: Path) -> Settings:
    return Settings(catalog_dir=str(slice_catalog), data_dir=str(workdir / "data"), train_epochs=15,
                    cache_dir=str(workdir / "cache"), real_photos_dir=str(real_photos_slice), photo_views=200,
                    photo_query_views=1)  # one shopper-style view per product tunes the slice's query tail


@pytest.fixture(scope="session")
def engine(settings: Settings):
    """The real thing on the slice: trained space, embedded Chroma, real encoders."""
    from assistant.bootstrap import ensure_ready

    return ensure_ready(settings)


# --- shared helpers ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """One Chroma server for the session's server-backed index tests."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()


def assistant_env(**extra: str) -> dict[str, str]:
    """Environment for `python -m assistant …` subprocesses: the repo importable, no network, no telemetry."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def say(text: str, out: Path, rate: int = 130, gap: int = 8, voice: str = "en-us", ffmpeg_args: tuple[str, ...] = ()) -> Path:
    """Speak `text` with espeak-ng into `out` (any format ffmpeg writes, picked by the suffix)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    wav = out.with_name(out.stem + ".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-g", str(gap), "-w", str(wav), text], check=True,
                   capture_output=True)
    if out.suffix == ".wav" and not ffmpeg_args:
        wav.replace(out)
    else:
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), *ffmpeg_args, str(out)], check=True)
        wav.unlink()
    return out


def make_photo(path: Path, colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (48, 64)) -> Path:
    """A small real JPEG/PNG (format by suffix) for catalog tests that need no real product photo."""
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(im).rectangle((size[0] // 5, size[1] // 5, size[0] * 4 // 5, size[1] * 4 // 5), fill=colour)
    im.save(path)
    return path


@pytest.fixture(scope="session")
def other_rows() -> list[dict]:
    """Real catalog rows that are not in the slice (a second, unseen catalog)."""
    rows = fashion_rows()
    random.Random(7).shuffle(rows)
    return rows[SLICE_SIZE:SLICE_SIZE + 96]


# No network in tests: hub models resolve from local folders or fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
