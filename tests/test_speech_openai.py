"""The optional openai-whisper backend: a tiny randomly initialised Whisper checkpoint (no download) loads
through `load_transcriber("openai:<file>")`, transcribes a spoken request through the same call path as the
app (random weights: any text, but a Transcript), silence gets the "didn't catch that" note, bad files a
ModelFileError naming them, and nothing touches the network."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import say

from assistant.encoders.base import ModelFileError
from assistant.speech import SAMPLE_RATE, OpenAIWhisper, Transcript, load_transcriber, transcribe

NOT_CAUGHT = "didn't catch that"
# openai-whisper's own numpy use (not ours) warns under numpy 2
pytestmark = pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network (a model or tokenizer download) fails the test."""
    def refuse(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access attempted: {address}")
        return real_connect(self, address)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Decoding a tiny model is thousands of tiny ops: with two intra-op threads on a busy 2-core machine every
    op waits for both threads to be scheduled (measured 5-30x slower); one thread keeps the test quick."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny multilingual Whisper (the real tokenizer and mel sizes, one narrow layer each side)."""
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    model = Whisper(dims)
    path = tmp_path_factory.mktemp("openai-whisper") / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    import subprocess

    d = tmp_path_factory.mktemp("openai-clips")
    speech = say("black heels, under 1500 rupees", d / "request.wav")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2",
                    str(d / "silence.wav")], check=True)
    return {"speech": speech.read_bytes(), "silence": (d / "silence.wav").read_bytes()}


def test_a_checkpoint_loads_once_through_load_transcriber(checkpoint: Path, tmp_path: Path) -> None:
    model = load_transcriber("openai:" + str(checkpoint), str(tmp_path), 2)
    assert isinstance(model, OpenAIWhisper)
    assert model.model.is_multilingual and model.model.dims.n_mels == 80
    assert load_transcriber("openai:" + str(checkpoint), str(tmp_path), 2) is model  # cached, not reloaded


def test_a_spoken_request_comes_back_as_a_transcript(checkpoint: Path, clips: dict[str, bytes], tmp_path: Path) -> None:
    model = load_transcriber("openai:" + str(checkpoint), str(tmp_path), 2)
    prompts = {"en": "men's black shirts, heels for women, under 1000 rupees.", "zh": "男士衬衫，1000元以下。"}
    out = transcribe(clips["speech"], model, 30.0, prompts, ("en", "zh"))
    assert isinstance(out, Transcript)
    assert 1.0 < out.seconds < 10.0
    assert isinstance(out.text, str) and isinstance(out.language, str)
    if out.text:  # random weights say anything: words (in one of the shop's languages) …
        assert any(ch.isalnum() for ch in out.text) and out.language in ("en", "zh") and out.note == ""
    else:  # … or nothing readable, which the shopper is told
        assert NOT_CAUGHT in out.note
    # the backend itself: ([(text, score)], language), the language picked among the shop's languages
    audio = np.zeros(SAMPLE_RATE, np.float32) + 0.05 * np.sin(np.arange(SAMPLE_RATE, dtype=np.float32) / 5)
    heard, language = model.hypotheses(audio, prompts, ("zh",))
    assert len(heard) == 1 and isinstance(heard[0][0], str) and language == "zh"
    assert model.speaks("zh") == model.model.is_multilingual


def test_silence_is_not_caught(checkpoint: Path, clips: dict[str, bytes], tmp_path: Path) -> None:
    model = load_transcriber("openai:" + str(checkpoint), str(tmp_path), 2)
    out = transcribe(clips["silence"], model, 30.0)
    assert out.text == "" and NOT_CAUGHT in out.note and out.seconds == pytest.approx(2.0, abs=0.1)


def test_missing_or_damaged_checkpoints_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-whisper.pt"
    with pytest.raises(ModelFileError, match=r"no-such-whisper\.pt"):
        load_transcriber("openai:" + str(missing), str(tmp_path), 2)
    damaged = tmp_path / "damaged-whisper.pt"
    damaged.write_bytes(b"not a torch checkpoint")
    with pytest.raises(ModelFileError, match=r"damaged-whisper\.pt"):
        load_transcriber("openai:" + str(damaged), str(tmp_path), 2)
    foreign = tmp_path / "foreign-whisper.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ModelFileError, match=r"foreign-whisper\.pt"):
        load_transcriber("openai:" + str(foreign), str(tmp_path), 2)
