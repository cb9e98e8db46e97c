"""Bad input, every case of the corpus made at test time (tests/corpus.py: broken, huge and odd photos, broken,
empty and overlong voice clips, empty, overlong, emoji-only, HTML and SQL-looking words, and catalog rows with
every field wrong once), through every door: the engine (`InputError` with a human message, or odd-but-valid
input simply works), the CLI (`search` writes an "error" on that query's line and carries on; `ingest` reports
broken rows by line number and ingests the rest), the chat handlers and the API of `python app.py`. After
each bad request the next one is served normally, and nothing is written: no new or changed file in the data,
index and cache folders or in gradio's upload folder, and the index count is unchanged."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import AUDIO, IMAGES, SPOKEN, TEXTS, Case, make_audio, make_images
from gradio_client import Client, handle_file

from assistant.cli import main
from assistant.config import Settings
from assistant.engine import Engine
from assistant.errors import InputError
from assistant.index import ProductIndex
from assistant.session import Session
from assistant.ui import EngineLoader, build_demo

try:
    from test_browser import FASHION, RunningApp
except ImportError:  # tests imported as a package
    from tests.test_browser import FASHION, RunningApp

pytestmark = pytest.mark.slow
VOICE = Path(__file__).resolve().parent.parent / "assets" / "voice" / "blue-shirts-for-men.wav"
IDS = {c.name for c in IMAGES + AUDIO}


def files(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folders`: path → (size, modification time)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for d in folders if d.exists()
            for p in d.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------------
# the corpus
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source(slice_rows: list[dict]) -> dict:
    """The product whose photo the odd-but-valid photos are made from."""
    return slice_rows[3]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, source: dict) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-input")
    return {**make_images(d / "photos", (FASHION / source["image"]).read_bytes()), **make_audio(d / "voice")}


@pytest.fixture(scope="module")
def warm(engine: Engine, corpus: dict[str, Path], source: dict) -> Engine:
    """The engine with everything loaded that is loaded once: the speech model (the first load joins Whisper
    into the cache) and both collections of the index (Chroma persists a collection when it first loads it)."""
    assert SPOKEN.split()[1].rstrip("s") in engine.transcribe(corpus["8khz-stereo.wav"]).text.lower()
    assert engine.search(image=FASHION / source["image"], top_k=1).ids == [source["id"]]
    serves_normally(engine)
    return engine


@pytest.fixture
def untouched(warm: Engine, settings: Settings) -> Iterator[None]:
    """Nothing is written by the test: the data (model, index) and cache folders are as they were."""
    before, count = files(Path(settings.data_dir), settings.cache_path), warm.index.count()
    yield
    assert files(Path(settings.data_dir), settings.cache_path) == before
    assert warm.index.count() == count


def serves_normally(engine: Engine) -> None:
    assert engine.search(text="black watch", top_k=3).hits


def test_the_corpus_is_what_it_claims(corpus: dict[str, Path]) -> None:
    """The generated files really are the awkward cases (not placeholders)."""
    from PIL import Image

    assert set(corpus) >= IDS
    with Image.open(corpus["cmyk.jpg"]) as im:
        assert im.mode == "CMYK"
    with Image.open(corpus["16-bit-grey.png"]) as im:
        assert im.mode.startswith("I;16")
    assert corpus["16-bit.png"].read_bytes()[24] == 16  # IHDR bit depth
    with Image.open(corpus["animated.gif"]) as im:
        assert im.n_frames == 2 and im.is_animated
    with Image.open(corpus["greyscale.jpg"]) as im:
        assert im.mode == "L"
    for name, side in (("huge-10000x10000.png", 10_000), ("bomb-50000x50000.png", 50_000)):
        head = corpus[name].read_bytes()[:24]
        assert int.from_bytes(head[16:20], "big") == int.from_bytes(head[20:24], "big") == side
    assert corpus["bomb-50000x50000.png"].stat().st_size < 2_000_000  # 2.5 gigapixels in under 2 MB
    assert corpus["zero.jpg"].stat().st_size == corpus["empty.wav"].stat().st_size == 0
    import av

    with av.open(str(corpus["8khz-stereo.wav"])) as c:
        s = c.streams.audio[0]
        assert (s.rate, s.channels) == (8000, 2)
    with av.open(str(corpus["five-minutes.wav"])) as c:
        assert 299 <= c.duration / 1e6 <= 301


# ---------------------------------------------------------------------------------------------------
# the engine
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", IMAGES, ids=lambda c: c.name)
def test_engine_photos(warm: Engine, corpus: dict[str, Path], source: dict, case: Case, untouched: None) -> None:
    path = corpus[case.name]
    for photo, text in ((path, None), (path.read_bytes(), None), (path, "like this but in red")):
        if case.expect == "refused":
            with pytest.raises(InputError, match=case.words) as err:
                warm.search(text=text, image=photo)
            assert len(str(err.value)) < 200 and "Error" not in str(err.value)
        else:
            result = warm.search(text=text, image=photo, top_k=10)
            assert result.hits and result.photo_description().startswith("looks like")
            if text is None:  # the same product, whatever the colour model, depth or frames
                assert source["id"] in result.ids[:3], (case.name, result.ids[:3])
        serves_normally(warm)


@pytest.mark.parametrize("case", AUDIO, ids=lambda c: c.name)
def test_engine_voice(warm: Engine, corpus: dict[str, Path], case: Case, untouched: None) -> None:
    path = corpus[case.name]
    clips: list[Path | bytes] = [path] if case.expect == "works" else [path, path.read_bytes()]
    for clip in clips:
        if case.expect == "refused":
            with pytest.raises(InputError, match=case.words) as err:
                warm.transcribe(clip)
            assert len(str(err.value)) < 200
        else:
            heard = warm.transcribe(clip)
            if case.expect == "unheard":
                assert heard.text == "" and re.search(case.words, heard.note)
            else:
                assert "shirt" in heard.text.lower() and re.search(case.words or "^$", heard.note), heard
                assert warm.search(text=heard.text, top_k=5).hits
        serves_normally(warm)


@pytest.mark.parametrize("case", TEXTS, ids=lambda c: c.name)
def test_engine_words(warm: Engine, case: Case, untouched: None) -> None:
    if case.expect == "refused":
        with pytest.raises(InputError, match=case.words):
            warm.search(text=case.text)
    else:
        assert warm.search(text=case.text, top_k=5).hits
    serves_normally(warm)


def test_engine_wrong_types(warm: Engine, untouched: None) -> None:
    for call, words in [(lambda: warm.search(text=42), "words"), (lambda: warm.search(text=["shirts"]), "words"),
                        (lambda: warm.search(image=12), "photo"), (lambda: warm.search(image=["a.jpg"]), "photo"),
                        (lambda: warm.transcribe(3.5), "voice clip"),
                        (lambda: warm.transcribe(b"\0" * (warm.settings.max_upload_bytes + 1)), "too big")]:
        with pytest.raises(InputError, match=words):
            call()
    serves_normally(warm)


# ---------------------------------------------------------------------------------------------------
# the CLI
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(settings.cache_path))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("CATALOG_DIR", str(settings.catalog_dir))


def test_cli_search_answers_every_line(warm: Engine, settings: Settings, corpus: dict[str, Path], tmp_path: Path,
                                       cli_env: None, untouched: None, capsys: pytest.CaptureFixture[str]) -> None:
    media = tmp_path / "q" / "media"
    media.mkdir(parents=True)
    for name in IDS:
        shutil.copyfile(corpus[name], media / name)
    lines: list[object] = [{"qid": f"photo:{c.name}", "image": f"media/{c.name}"} for c in IMAGES]
    lines += [{"qid": f"voice:{c.name}", "audio": f"media/{c.name}"} for c in AUDIO]
    lines += [{"qid": f"words:{c.name}", "text": c.text} for c in TEXTS]
    odd: dict[str, str] = {  # qid (or file:line) → the words of its error
        "text-number": "must be words", "image-list": "photo must be", "audio-object": "voice clip must be",
        "photo-missing": "not found", "nothing": "tell me what you are looking for"}
    lines += [{"qid": "text-number", "text": 42}, {"qid": "image-list", "image": ["media/cmyk.jpg"]},
              {"qid": "audio-object", "audio": {"path": "media/8khz-stereo.wav"}},
              {"qid": "photo-missing", "image": "media/nope.jpg"}, {"qid": "nothing"}]
    for raw, words in [("not json at all", "not valid JSON"), ("[1, 2, 3]", "not a JSON object"),
                       ('{"text": "shirts"}', "has no qid")]:
        lines.append(raw)
        odd[f"queries.jsonl:{len(lines)}"] = words
    lines.append({"qid": "last", "text": "blue shirts for men"})  # carried on to the end
    queries = tmp_path / "q" / "queries.jsonl"
    queries.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines))
    out = tmp_path / "out.jsonl"

    capsys.readouterr()
    assert main(["search", "--model", str(settings.model_path), "--index", str(settings.index_path),
                 "--queries", str(queries), "--out", str(out), "--top-k", "10"]) == 0
    got = [json.loads(x) for x in out.read_text().splitlines()]
    answers = {x["qid"]: x for x in got}
    assert len(got) == len(lines) == len(answers)
    for c in IMAGES + AUDIO + TEXTS:
        kind = "photo" if c in IMAGES else "voice" if c in AUDIO else "words"
        line = answers[f"{kind}:{c.name}"]
        if c.expect == "works":
            assert "error" not in line and len(line["results"]) == 10, line
        else:
            assert line["results"] == [] and re.search(c.words, line["error"]), line
    for qid, words in odd.items():
        assert answers[qid]["results"] == [] and words in answers[qid]["error"], answers[qid]
    assert "shirt" in answers["voice:five-minutes.wav"]["transcript"].lower()
    assert len(answers["last"]["results"]) == 10 and "error" not in answers["last"]
    refused = sum(c.expect != "works" for c in IMAGES + AUDIO + TEXTS) + len(odd)
    assert f"{len(lines)} queries answered, {refused} with an error" in capsys.readouterr().err


def test_cli_ingest_reports_broken_rows_by_line_and_ingests_the_rest(
        warm: Engine, settings: Settings, slice_rows: list[dict], corpus: dict[str, Path], tmp_path: Path,
        cli_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))  # the session's feature cache stays as it is
    real = [dict(r, image=str(FASHION / r["image"])) for r in slice_rows[20:24]]

    def row(pid: str, **over: object) -> dict:
        out = {**real[0], "id": pid, **over}
        return {k: v for k, v in out.items() if v is not ...}

    broken: list[tuple[object, str]] = [
        (row("", id=...), "missing id"), (row("  "), "missing id"), (row("x", id=["a1"]), "bad id"),
        (row("x", id={"v": 1}), "bad id"), (row("x", id=True), "bad id"), (row("t1", title=...), "missing title"),
        (row("t2", title=["Shirt"]), "bad title"), (row("i1", image=...), "missing image"),
        (row("i2", image={"url": "x.jpg"}), "bad image"), (row("i3", image=str(tmp_path / "nope.jpg")), "image not found"),
        (row("i4", image=str(tmp_path)), "image not found"), (row("i5", image=42), "image not found"),
        (row("p1", price="abc"), "bad price"), (row("p2", price=-5), "bad price"), (row("p3", price=[100]), "bad price"),
        (row("p4", price={"amount": 5}), "bad price"), (row("p5", price=True), "bad price"),
        (row("p6", price="Infinity"), "bad price"), (row("s1", sale_price="cheap"), "bad sale_price"),
        (row("s2", price=500, sale_price=800), "above price"), (row("s3", sale_price=[1]), "bad sale_price"),
        (row("c1", currency=["INR"]), "bad currency"),
        *[(row(f"f-{f}", **{f: ["x", "y"] if n % 2 else {"x": 1}}), f"bad {f}") for n, f in enumerate(
            ("brand", "gender", "category", "subcategory", "article_type", "base_colour", "season", "year", "usage",
             "description"))],
        (row("l1", colours="[Red, Blue"), "colours"), (row("l2", colours=7), "colours"),
        (row("l3", sizes={"S": 1}), "sizes"), (row("a1", attributes="{oops"), "attributes"),
        (row("a2", attributes=["Fit", "Slim"]), "attributes"),
        (row(real[0]["id"]), "duplicate id"),
        ('{"id": "cut", "title": "cut short', "not valid JSON"), ("[1, 2]", "not a JSON object"),
        ("null", "not a JSON object"), ('"just a string"', "not a JSON object"),
        *[(row(f"photo-{c.name}", image=str(corpus[c.name])), c.words) for c in IMAGES if c.expect == "refused"],
    ]
    odd_ok = [row(f"odd-{c.name}", image=str(corpus[c.name])) for c in IMAGES if c.expect == "works"]
    lines: list[object] = [real[0]]
    expected: dict[tuple[str, int], str] = {}  # (catalog folder, line) → the words of its report
    for value, words in broken:
        lines.append(value)
        expected[("catalog", len(lines))] = words
    lines += [*real[1:], *odd_ok]
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "products.jsonl").write_text(
        "".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines))
    second = tmp_path / "second"  # a second catalog repeating an id of the first, on its line 2
    second.mkdir()
    (second / "products.jsonl").write_text(json.dumps(real[2]) + "\n" + json.dumps(real[1]) + "\n")
    index = tmp_path / "index"

    capsys.readouterr()
    assert main(["ingest", "--catalog", str(catalog), "--catalog", str(second), "--model", str(settings.model_path),
                 "--index", str(index)]) == 0
    out = capsys.readouterr()
    reported: dict[tuple[str, int], str] = {}
    for line in out.err.splitlines():
        m = re.match(r"skipped (.*products\.jsonl):(\d+)(?: \(id [^)]*\))?: (.+)$", line)
        if m:
            where = (Path(m.group(1)).parent.name or "catalog", int(m.group(2)))
            assert where not in reported, line  # one report per broken row
            reported[where] = m.group(3)
    expected[("second", 1)] = expected[("second", 2)] = "duplicate id across catalogs"
    assert sorted(reported) == sorted(expected), out.err[-3000:]
    for where, words in expected.items():
        assert re.search(words, reported[where]), (where, words, reported[where])
    good = [real[0]["id"], *(r["id"] for r in real[1:]), *(r["id"] for r in odd_ok)]
    assert f"{len(good)} added" in out.out and f"{len(broken) + 2} rows skipped" in out.out, out.out
    assert set(ProductIndex(index).hashes()) == set(good)


# ---------------------------------------------------------------------------------------------------
# the chat (the app's handler functions, in process)
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def on_submit(warm: Engine) -> Callable[..., Iterator[tuple]]:
    """The chat box's handler of the real app, over the session's engine."""
    loader = EngineLoader(lambda: warm, warm_speech=False).start()
    assert loader.wait(60) is warm
    demo = build_demo(loader)
    return next(f.fn for f in demo.fns.values() if f.name == "on_submit")


def chat(on_submit: Callable[..., Iterator[tuple]], text: str = "", upload: Path | None = None,
         session: Session | None = None) -> tuple[list[dict], Session]:
    """Send one chat message (a file as gradio would have saved it); the chat history and session after it."""
    files = [str(upload)] if upload else []
    *_, last = on_submit({"text": text, "files": files}, [], session or Session())
    return last[0], last[1]


def as_upload(src: Path, uploads: Path) -> Path:
    dest = uploads / uuid.uuid4().hex / src.name
    dest.parent.mkdir(parents=True)
    shutil.copyfile(src, dest)
    return dest


@pytest.mark.parametrize("case", IMAGES + AUDIO + TEXTS, ids=lambda c: f"{c.name}")
def test_chat_answers_every_case(on_submit: Callable[..., Iterator[tuple]], warm: Engine, corpus: dict[str, Path],
                                 settings: Settings, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 untouched: None) -> None:
    uploads = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    upload = as_upload(corpus[case.name], uploads) if case.name in IDS else None
    history, session = chat(on_submit, case.text, upload)
    said = [m["content"] for m in history if m["role"] == "user"]
    reply = history[-1]["content"]
    assert history[-1]["role"] == "assistant" and reply
    if case.expect == "refused":
        assert re.search(case.words, reply) and not session.shown, reply
        assert reply.startswith("⚠️") or case in TEXTS[:2]
    elif case.expect == "unheard":
        assert re.search(case.words, reply) and not session.shown, reply
    else:
        assert session.shown, reply
        assert "Something went wrong" not in reply
        if case in IMAGES:
            assert "looks like" in reply
        if case in AUDIO:
            assert "shirt" in said[-1].lower() and said[-1].startswith("🎤")
            assert re.search(case.words or ".", reply)  # the five-minute clip: "only the first 30 seconds"
    assert not any("<script" in m or "<img src=x" in m for m in [*said, reply])  # markup shown, never rendered
    assert not [p for p in uploads.rglob("*") if p.is_file()]  # the upload was deleted, used or refused
    history, session = chat(on_submit, "black watch")  # the next request is served normally
    assert session.shown and history[-1]["content"].startswith("Here are")


# ---------------------------------------------------------------------------------------------------
# the API of `python app.py`
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with RunningApp(settings, tmp_path_factory.mktemp("bad-input-app")) as running:
        yield running


@pytest.fixture(scope="module")
def client(app: RunningApp, source: dict) -> Client:
    c = Client(app.url, verbose=False)
    for _ in range(600):
        try:  # words, a photo and a clip: the index's collections and the speech model loaded once
            c.predict(query="shirts", top_k=1, api_name="/search_text")
            c.predict(image=handle_file(str(FASHION / source["image"])), top_k=1, api_name="/search_image")
            c.predict(audio=handle_file(str(VOICE)), top_k=1, api_name="/search_voice")
            return c
        except Exception as e:
            assert "getting ready" in str(e), str(e)
            time.sleep(0.5)
    raise TimeoutError("the assistant never got ready")


def api_call(client: Client, case: Case, corpus: dict[str, Path]) -> dict[str, Any]:
    if case in IMAGES:
        return client.predict(image=handle_file(str(corpus[case.name])), top_k=5, api_name="/search_image")
    if case in AUDIO:
        return client.predict(audio=handle_file(str(corpus[case.name])), top_k=5, api_name="/search_voice")
    return client.predict(query=case.text, top_k=5, api_name="/search_text")


def test_api_answers_every_case(client: Client, app: RunningApp, settings: Settings, corpus: dict[str, Path],
                                source: dict) -> None:
    written = files(app.work / "data", settings.cache_path, app.uploads)  # index, model, caches, uploads
    for case in IMAGES + AUDIO + TEXTS:
        if case.expect == "works":
            out = api_call(client, case, corpus)
            assert out["products"], case.name
            if case in IMAGES:
                assert source["id"] in [p["id"] for p in out["products"][:3]] and out["photo"].startswith("looks like")
            if case in AUDIO:
                assert "shirt" in out["transcript"].lower()
                assert re.search(case.words or "^$", " ".join(out["notes"])), out["notes"]
        else:
            with pytest.raises(Exception, match=case.words) as err:
                api_call(client, case, corpus)
            assert "Traceback" not in str(err.value), case.name
        assert client.predict(query="black watch", top_k=3, api_name="/search_text")["products"]  # served normally
        assert not [p for p in app.uploads.rglob("*") if p.is_file()], case.name  # no upload left behind
    assert files(app.work / "data", settings.cache_path, app.uploads) == written  # nothing written, not a byte
    assert app.proc.poll() is None and "Traceback" not in app.logs(), app.logs()
