"""Privacy: a shopper's photos and voice clips leave no file behind after the request — gradio's uploads are
deleted whether they were used or refused — and appear in no log. The app (`python app.py`) is run with its
stdout and stderr captured; the chat handlers run in process with every logger at DEBUG and stdout/stderr
captured, including a turn that fails with a logged traceback. Neither holds an upload's file name, any of
its bytes (raw, base64 or hex) or what was said in it."""

from __future__ import annotations

import base64
import io
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import say
from corpus import wav_bytes
from gradio_client import Client, handle_file
from PIL import Image

from assistant.config import Settings
from assistant.engine import Engine
from assistant.session import Session
from assistant.ui import EngineLoader, build_demo

try:
    from test_browser import FASHION, RunningApp
except ImportError:  # tests imported as a package
    from tests.test_browser import FASHION, RunningApp

pytestmark = pytest.mark.slow
SAID = "purple handbags for women"


class Secrets:
    """A shopper's uploads, each named and filled with things that must not leak: a token in every file
    name, a photo whose bytes are unique to this run, a recording of `SAID`, and broken files."""

    def __init__(self, folder: Path, photo_source: Path) -> None:
        self.token = uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        im = Image.open(photo_source).convert("RGB")
        im.putpixel((0, 0), (int(self.token[:2], 16), int(self.token[2:4], 16), 7))  # bytes seen nowhere else
        out = io.BytesIO()
        im.save(out, "JPEG", quality=93, comment=f"secret {self.token}".encode())
        self.photo = folder / f"shopper-photo-{self.token}.jpg"
        self.photo.write_bytes(out.getvalue())
        self.voice = say(SAID, folder / f"shopper-voice-{self.token}.wav")
        self.broken_photo = folder / f"shopper-broken-{self.token}.jpg"
        self.broken_photo.write_text(f"not a photo: private note {self.token}\n")
        self.broken_voice = folder / f"shopper-broken-{self.token}.wav"
        self.broken_voice.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + f"private {self.token}".encode() * 20)
        self.silence = folder / f"shopper-silence-{self.token}.wav"
        self.silence.write_bytes(wav_bytes(np.zeros(16_000)))

    def files(self) -> list[Path]:
        return [self.photo, self.voice, self.broken_photo, self.broken_voice, self.silence]

    def leaks(self, log: bytes, heard: list[str]) -> list[str]:
        """What of these uploads a log holds (an empty list when nothing)."""
        found = []
        text = log.decode("utf-8", "replace").lower()
        for f in self.files():
            if f.name.lower() in text or f.stem.lower() in text:
                found.append(f"file name {f.name}")
        if self.token in text:
            found.append("the token of the uploads")
        for said in {SAID, *heard}:
            if said and said.strip(" .").lower() in text:
                found.append(f"what was said: {said!r}")
        for f in (self.photo, self.voice):
            data = f.read_bytes()
            for chunk in (data[len(data) // 2: len(data) // 2 + 48], data[-48:]):
                if chunk in log:
                    found.append(f"raw bytes of {f.name}")
                if chunk.hex() in text or base64.b64encode(chunk).decode()[8:56].lower() in text:
                    found.append(f"encoded bytes of {f.name}")
        return found


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------------------------------
# the app process
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with RunningApp(settings, tmp_path_factory.mktemp("privacy-app")) as running:
        yield running


@pytest.fixture(scope="module")
def client(app: RunningApp) -> Client:
    c = Client(app.url, verbose=False)
    for _ in range(600):
        try:
            c.predict(query="shirts", top_k=1, api_name="/search_text")
            return c
        except Exception as e:
            assert "getting ready" in str(e), str(e)
            time.sleep(0.5)
    raise TimeoutError("the assistant never got ready")


def test_the_app_keeps_no_upload_and_logs_none(client: Client, app: RunningApp, slice_rows: list[dict],
                                               settings: Settings, tmp_path: Path) -> None:
    s = Secrets(tmp_path / "shopper", FASHION / slice_rows[5]["image"])
    out = client.predict(image=handle_file(str(s.photo)), top_k=5, api_name="/search_image")
    assert out["products"]
    assert client.predict(image=handle_file(str(s.photo)), query="but in black", top_k=5, api_name="/search_image")["products"]
    heard = client.predict(audio=handle_file(str(s.voice)), top_k=5, api_name="/search_voice")
    assert heard["products"] and "handbag" in heard["transcript"].lower(), heard["transcript"]
    for call in (lambda: client.predict(image=handle_file(str(s.broken_photo)), api_name="/search_image"),
                 lambda: client.predict(audio=handle_file(str(s.broken_voice)), api_name="/search_voice"),
                 lambda: client.predict(audio=handle_file(str(s.silence)), api_name="/search_voice"),
                 lambda: client.predict(image=handle_file(str(s.broken_voice)), api_name="/search_image")):
        with pytest.raises(Exception) as err:
            call()
        assert s.token not in str(err.value)  # the error message does not repeat the upload either

    assert leftovers(app.uploads) == []  # every upload deleted, used or refused
    stored = [p for d in (app.work / "data", settings.cache_path) for p in d.rglob("*") if s.token in p.name]
    assert stored == []
    time.sleep(0.5)  # let the app flush what it prints
    log = app.logs().encode()
    assert b"Running on local URL" in log  # the capture works: what the app prints is here
    assert s.leaks(log, [heard["transcript"]]) == []


# ---------------------------------------------------------------------------------------------------
# the chat handlers, in process
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def on_submit(engine: Engine) -> Callable[..., Iterator[tuple]]:
    loader = EngineLoader(lambda: engine, warm_speech=False).start()
    assert loader.wait(60) is engine
    return next(f.fn for f in build_demo(loader).fns.values() if f.name == "on_submit")


def test_the_chat_keeps_no_upload_and_logs_none(on_submit: Callable[..., Iterator[tuple]], engine: Engine,
                                                slice_rows: list[dict], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    s = Secrets(tmp_path / "shopper", FASHION / slice_rows[6]["image"])
    uploads = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    caplog.set_level(logging.DEBUG)
    for name in ("", "assistant", "gradio", "httpx", "uvicorn", "faster_whisper", "chromadb"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)

    def send(*files: Path, text: str = "") -> tuple[list[dict], Session]:
        paths = []
        for f in files:
            dest = uploads / uuid.uuid4().hex / f.name
            dest.parent.mkdir(parents=True)
            shutil.copyfile(f, dest)
            paths.append(str(dest))
        *_, last = on_submit({"text": text, "files": paths}, [], Session())
        assert leftovers(uploads) == []  # deleted as soon as it was read
        return last[0], last[1]

    history, session = send(s.photo)
    assert session.shown and "looks like" in history[-1]["content"]
    history, session = send(s.voice)
    heard = history[-2]["content"]
    assert session.shown and "handbag" in heard.lower(), heard
    history, session = send(s.photo, s.voice)  # a photo and what should differ, said
    assert session.shown
    for broken in (s.broken_photo, s.broken_voice, s.silence):
        history, session = send(broken)
        assert not session.shown and s.token not in history[-1]["content"]

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the index went away")

    with monkeypatch.context() as m:
        m.setattr(engine, "search", fails)
        history, _ = send(s.photo, s.voice)  # a failure deep inside: logged with its traceback
    assert "Something went wrong" in history[-1]["content"]

    assert any(r.exc_info for r in caplog.records)  # the failure was logged (the capture works)
    logged = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    printed = capfd.readouterr()
    words = [heard.removeprefix("🎤 I heard:").strip(" “”")]
    assert s.leaks((logged + printed.out + printed.err).encode(), words) == []
