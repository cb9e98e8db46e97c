"""Shared fixtures: a slice of the real catalog, a space trained on it with the real encoders, a real
embedded Chroma index, and an engine over them (built once per test session)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FASHION = SHARED / "datasets" / "fashion"
DEV = SHARED / "eval" / "fashion-dev"
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
def settings(workdir: Path, slice_catalog: Path) -> Settings:
    return Settings(catalog_dir=str(slice_catalog), data_dir=str(workdir / "data"), train_epochs=15,
                    cache_dir=str(workdir / "cache"))


@pytest.fixture(scope="session")
def engine(settings: Settings):  # noqa: ANN201
    """The real thing on the slice: trained space, embedded Chroma, real encoders."""
    from assistant.bootstrap import ensure_ready

    return ensure_ready(settings)
