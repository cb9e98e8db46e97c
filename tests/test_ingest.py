"""Ingest: incremental by content hash, pruning, several catalogs, a run killed half-way, and a trained model
indexing a catalog it never saw."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FASHION, ROOT, assistant_env, write_catalog
from PIL import Image

from assistant import ingest as ingest_module
from assistant.config import Settings
from assistant.engine import Engine
from assistant.index import ProductIndex
from assistant.ingest import ingest
from assistant.space import JointSpace

pytestmark = pytest.mark.slow


class Counting:
    """Wraps an encoder and counts what it is asked to encode."""

    def __init__(self, inner: object) -> None:
        self.inner, self.calls, self.items = inner, 0, 0
        self.name, self.dim = inner.name, inner.dim  # type: ignore[attr-defined]

    def encode_image(self, images: list) -> np.ndarray:
        self.calls, self.items = self.calls + 1, self.items + len(images)
        return self.inner.encode_image(images)  # type: ignore[attr-defined]

    def encode_text(self, texts: list) -> np.ndarray:
        self.calls, self.items = self.calls + 1, self.items + len(texts)
        return self.inner.encode_text(texts)  # type: ignore[attr-defined]


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counting]:
    """Every encoder ingest asks for is counted."""
    made: dict[str, Counting] = {}
    real_image, real_text = ingest_module.image_encoder, ingest_module.text_encoder

    def image(name: str, threads: int = 2) -> Counting:
        return made.setdefault("image", Counting(real_image(name, threads)))

    def text(name: str, threads: int = 2) -> Counting:
        return made.setdefault("text", Counting(real_text(name, threads)))

    monkeypatch.setattr(ingest_module, "image_encoder", image)
    monkeypatch.setattr(ingest_module, "text_encoder", text)
    return made


def cache_rows(settings: Settings) -> int:
    with sqlite3.connect(settings.cache_path / "features.sqlite") as db:
        return db.execute("SELECT count(*) FROM features").fetchone()[0]


def test_incremental_ingest(engine: Engine, settings: Settings, slice_rows: list[dict], tmp_path: Path,
                            counting: dict[str, Counting]) -> None:
    rows = slice_rows[:24]
    folder = write_catalog(tmp_path / "cat", rows)
    index = ProductIndex(tmp_path / "index")
    first = ingest([folder], engine.space, index, settings)
    assert (first.total, first.added, first.updated, first.unchanged) == (24, 24, 0, 0)
    assert index.count() == 24

    # The same catalog again: nothing is embedded, nothing written.
    for c in counting.values():
        c.calls = c.items = 0
    before = cache_rows(settings)
    again = ingest([folder], engine.space, index, settings)
    assert (again.total, again.added, again.updated, again.unchanged, again.pruned) == (24, 0, 0, 24, 0)
    assert counting["image"].calls == 0 and counting["text"].calls == 0
    assert cache_rows(settings) == before
    assert "0 added, 0 updated, 24 unchanged" in again.summary()

    # One row changed (its price and its words): only that product is updated.
    changed = [dict(r) for r in rows]
    changed[5] = {**changed[5], "sale_price": 1, "price": 2, "title": changed[5]["title"] + " (new season)"}
    write_catalog(folder, changed)
    upd = ingest([folder], engine.space, index, settings)
    assert (upd.added, upd.updated, upd.unchanged) == (0, 1, 23)
    meta = index.get([rows[5]["id"]])[rows[5]["id"]][0]
    assert meta["sale_price"] == 1.0 and meta["title"].endswith("(new season)")
    assert counting["image"].items == 0  # its photo did not change: its features come from the cache

    # Two rows removed: kept until pruned.
    write_catalog(folder, changed[:22])
    kept = ingest([folder], engine.space, index, settings)
    assert (kept.total, kept.unchanged, kept.pruned) == (22, 22, 0) and index.count() == 24
    pruned = ingest([folder], engine.space, index, settings, prune=True)
    assert pruned.pruned == 2 and index.count() == 22
    assert set(index.hashes()) == {r["id"] for r in changed[:22]}
    gone = {rows[22]["id"], rows[23]["id"]}
    assert gone.isdisjoint(h.id for h in index.query(engine.embed_text("shirts"), 30))


def test_several_catalogs_at_once(engine: Engine, settings: Settings, slice_rows: list[dict], tmp_path: Path) -> None:
    a = write_catalog(tmp_path / "a", slice_rows[:6])
    b = write_catalog(tmp_path / "b", slice_rows[4:10])  # two ids in both: the first catalog's rows win
    index = ProductIndex(tmp_path / "index")
    report = ingest([a, b], engine.space, index, settings)
    assert report.total == 10 and report.added == 10 and index.count() == 10
    dup = [p for p in report.problems if "duplicate" in p.message]
    assert {p.product_id for p in dup} == {slice_rows[4]["id"], slice_rows[5]["id"]}


def r_image(row: dict) -> str:
    return str(FASHION / row["image"])


def chroma_rows(index_dir: Path) -> int:
    """Rows Chroma has written (both collections), read from its SQLite file without opening a client."""
    db_file = index_dir / "chroma.sqlite3"
    if not db_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_killed_ingest_leaves_a_usable_index(engine: Engine, settings: Settings, slice_rows: list[dict],
                                               other_rows: list[dict], tmp_path: Path) -> None:
    """`python -m assistant ingest` is SIGKILLed once its first chunk (256 products) is in; the index still
    answers searches, and running ingest again finishes with exactly the catalog's products."""
    first_chunk = 256
    # The slice's features are cached, so the first chunk lands fast; the rest get freshly saved photos (new
    # bytes, so never in the feature cache) and keep the process busy long enough to be killed mid-way.
    fresh = tmp_path / "photos"
    fresh.mkdir()
    rest = []
    for r in other_rows:
        Image.open(FASHION / r["image"]).save(fresh / f"{r['id']}.jpg", quality=93)
        rest.append({**r, "image": str(fresh / f"{r['id']}.jpg")})
    rows = slice_rows[:first_chunk] + rest
    folder = write_catalog(tmp_path / "cat", rows)
    index_dir = tmp_path / "index"
    env = assistant_env(ASSISTANT_CACHE_DIR=str(settings.cache_path), ASSISTANT_THREADS=str(settings.threads))
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", "--catalog", str(folder),
                             "--model", str(settings.model_path), "--index", str(index_dir)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        while chroma_rows(index_dir) < 2 * first_chunk:
            assert proc.poll() is None, "ingest ended before it could be killed:\n" + proc.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "ingest did not index its first chunk in time"
            time.sleep(0.05)
        assert proc.poll() is None, "ingest finished before it could be killed (make the catalog bigger)"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    index = ProductIndex(index_dir)
    partial = index.count()
    assert first_chunk <= partial < len(rows)
    assert set(index.hashes()) <= {r["id"] for r in rows}
    half = Engine(settings, space=engine.space, index=index)
    assert half.search(text="men's blue shirts", top_k=5).hits
    one = slice_rows[3]
    assert half.search(image=r_image(one), top_k=1).ids[0] == one["id"]

    report = ingest([folder], engine.space, index, settings)
    assert report.unchanged == partial and report.added == len(rows) - partial and report.updated == 0
    assert index.count() == len(rows)
    assert set(index.hashes()) == {r["id"] for r in rows}
    done = Engine(settings, space=engine.space, index=ProductIndex(index_dir))
    last = rest[-1]
    assert done.search(image=last["image"], top_k=1).ids[0] == last["id"]


def test_model_indexes_a_catalog_it_never_saw(engine: Engine, settings: Settings, other_rows: list[dict],
                                              tmp_path: Path) -> None:
    """No retraining: the space trained on the slice embeds another catalog's products, and they are found."""
    weights = settings.model_path / "space.safetensors"
    stamp = weights.stat().st_mtime_ns
    rows = other_rows[:24]
    folder = write_catalog(tmp_path / "other", rows)
    index = ProductIndex(tmp_path / "index")
    report = ingest([folder], engine.space, index, settings)
    assert report.added == 24 and index.count() == 24
    assert weights.stat().st_mtime_ns == stamp  # the model was not touched
    other = Engine(settings, space=JointSpace.load(settings.model_path), index=index)
    found_photo = sum(other.search(image=r_image(r), top_k=1).ids[0] == r["id"] for r in rows[:5])
    assert found_photo == 5
    hit_by_title = sum(r["id"] in other.search(text=r["title"], top_k=5).ids for r in rows[:10])
    assert hit_by_title >= 7
