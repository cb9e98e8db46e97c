"""Ready anywhere: a fresh clone with nothing beside it serves the demo catalog (words, a photo, a voice clip),
and the repository is a Hugging Face Space (front matter, requirements.txt)."""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import ROOT

from assistant.bundle import sha256
from assistant.config import DEMO_CATALOG, Settings, _default_catalog
from bench.start import altered_photo, fresh_clone, problems, start_once


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("---\n")[1]
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.splitlines() if ":" in line)}


def test_the_readme_front_matter_makes_a_space_that_fits_zerogpu_and_cpu_hardware() -> None:
    meta = front_matter()
    for key in ("title", "sdk", "sdk_version", "python_version", "app_file", "short_description",
                "startup_duration_timeout", "suggested_hardware"):
        assert meta.get(key), f"front matter lacks {key}"
    assert meta["sdk"] == "gradio" and (ROOT / meta["app_file"]).is_file()
    assert meta["python_version"] in ("3.10.13", "3.12.12")  # what ZeroGPU accepts
    assert len(meta["short_description"]) <= 60
    pins = dict(re.findall(r'"([A-Za-z0-9_.\-]+)==([^"]+)"', (ROOT / "pyproject.toml").read_text()))
    assert meta["sdk_version"] == pins["gradio"]


def test_requirements_pin_what_pyproject_pins_with_a_torch_zerogpu_accepts() -> None:
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "." not in lines and not any(line.startswith(("-e", "./")) for line in lines)
    pinned = dict(line.split("==", 1) for line in lines if "==" in line)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = dict(d.split("==", 1) for d in deps)
    assert set(pinned) == set(wanted)
    assert {k: v for k, v in pinned.items() if k != "torch"} == {k: v for k, v in wanted.items() if k != "torch"}
    major, minor, _ = (int(x) for x in pinned["torch"].split("."))
    assert (2, 8) <= (major, minor) <= (2, 11)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines  # the CPU build on CPU hardware


def test_without_catalog_dir_or_shared_data_the_demo_catalog_is_served(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    import assistant.config as config

    monkeypatch.delenv("CATALOG_DIR", raising=False)
    monkeypatch.setattr(config, "REPO", tmp_path / "repo")  # a checkout with no ../shared beside it
    assert _default_catalog() == str(DEMO_CATALOG)
    assert Settings.from_env().catalog_dir == str(DEMO_CATALOG)
    monkeypatch.setenv("CATALOG_DIR", str(tmp_path / "mine"))
    assert Settings.from_env().catalog_dir == str(tmp_path / "mine")


def test_settings_are_overridden_from_the_environment_by_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_PHOTO_LEAD_SIMILARITY", "0.65")
    monkeypatch.setenv("ASSISTANT_PHOTO_LEAD_FACETS", "gender, article_type")
    s = Settings.from_env()
    assert (s.top_k, s.photo_lead_similarity, s.photo_lead_facets) == (7, 0.65, ("gender", "article_type"))
    monkeypatch.setenv("ASSISTANT_PHOTO_LEAD_FACETS", ",")  # none: the heads alone say what the photo shows
    assert Settings.from_env().photo_lead_facets == ()


@pytest.mark.slow
def test_a_fresh_clone_with_nothing_beside_it_serves_words_photos_and_voice(tmp_path: Path) -> None:
    """The committed HEAD, cloned where no ../shared is, started as `python app.py` with no CATALOG_DIR:
    the demo catalog and its prebuilt bundle answer a request in words, a shopper's photo and a voice clip."""
    repo = fresh_clone(tmp_path)
    assert not (repo.parent / "shared").exists()
    photo, product = altered_photo(repo, tmp_path / "photo.jpg")
    start = start_once(repo, sys.executable, photo, timeout=600, name="fresh-clone")
    assert problems(start, product) == []
    # the model installed from the bundle and every product's vectors loaded from it: nothing was encoded
    weights = "model/space.safetensors"
    assert sha256(repo / "data" / weights) == sha256(repo / "catalog" / "bundle" / weights)
    with sqlite3.connect(repo / "data" / "cache" / "features.sqlite") as db:
        assert db.execute("SELECT count(*) FROM features").fetchone()[0] == 0
