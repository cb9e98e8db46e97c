"""Speech in: a real recording transcribed accurately, a spoken request in five containers understood, and bad
audio (not audio, too short, silent, damaged, too long) handled with a clear answer. Packaged Whisper base."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, say

from assistant.config import Settings
from assistant.engine import Engine, SearchResult
from assistant.errors import InputError
from assistant.evaluate import run_queries, wer
from assistant.speech import (
    SAMPLE_RATE,
    Ensemble,
    FasterWhisper,
    Transcriber,
    choose,
    decode_audio,
    load_transcriber,
    loops,
    pick_hypothesis,
    respell,
    transcribe,
    unloop,
)
from assistant.understanding import Vocabulary, understand

pytestmark = pytest.mark.slow

JFK = SHARED / "datasets" / "speech" / "jfk.flac"
JFK_SAID = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
REQUEST = "black heels, under 1500 rupees"  # the comma gives espeak's words room; what is said is the request
FORMATS = ("wav", "mp3", "ogg", "flac", "webm")
NOT_CAUGHT = "didn't catch that"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    wav = say(REQUEST, d / "request.wav")
    out = {"wav": wav}
    for fmt in FORMATS[1:]:
        ffmpeg("-i", str(wav), str(d / f"request.{fmt}"))
        out[fmt] = d / f"request.{fmt}"
    ffmpeg("-i", str(wav), "-ar", "8000", "-ac", "2", str(d / "request-8k-stereo.wav"))
    ffmpeg("-i", str(wav), "-t", "0.1", str(d / "short.wav"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", str(d / "silence.wav"))
    ffmpeg("-i", str(wav), "-af", "apad=whole_dur=35", str(d / "long.wav"))
    (d / "text.wav").write_text("RIFF? no: this is a text file with a .wav name\n")
    data = wav.read_bytes()
    (d / "bad-header.wav").write_bytes(b"RIFF\xff\xff\xff\xffWAVEjunk" + b"\x00" * 24 + data[44:])
    (d / "header-only.wav").write_bytes(data[:44])
    for name in ("request-8k-stereo", "short", "silence", "long", "text", "bad-header", "header-only"):
        out[name] = d / f"{name}.wav"
    return out


@pytest.fixture(scope="module")
def model(settings: Settings) -> Transcriber:
    """The same cached transcriber the engine uses (same model name, cache folder and threads)."""
    return load_transcriber(settings.speech_model, str(settings.cache_path), settings.speech_threads,
                     settings.speech_window_seconds)


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary({"article_type": {"Heels": 3, "Flats": 2}, "base_colour": {"Black": 3, "Red": 1},
                       "gender": {"Women": 3, "Men": 1}})


def test_the_packaged_models_are_the_default(model: Transcriber) -> None:
    """base and tiny.en, both from pip packages, hear each clip together; tiny.en cannot hear Chinese."""
    assert Settings().speech_model == "base+tiny.en"
    assert isinstance(model, Ensemble) and [type(m) for m in model.members] == [FasterWhisper, FasterWhisper]
    base, tiny = model.members
    assert base.speaks("zh") and base.speaks("en") and tiny.speaks("en") and not tiny.speaks("zh")
    assert model.speaks("zh")


def test_both_models_are_heard(model: Transcriber, clips: dict[str, Path], engine: Engine) -> None:
    """An English clip gets both models' n-best lists (5 each); a forced Chinese reading only base's."""
    audio, _ = decode_audio(clips["wav"].read_bytes(), 30)
    heard, language = model.hypotheses(audio, engine.speech_prompts, ("en", "zh"))
    assert language == "en" and len(heard) == 10
    assert sum("heel" in text.lower() for text, _ in heard[:5]) and sum("heel" in text.lower() for text, _ in heard[5:])
    heard, language = model.hypotheses(audio, engine.speech_prompts, ("en", "zh"), language="zh")
    assert language == "zh" and len(heard) == 5


def test_real_speech_is_transcribed_accurately(model: Transcriber) -> None:
    heard = transcribe(JFK.read_bytes(), model)
    assert wer(JFK_SAID, heard.text) <= 0.10, heard.text
    assert heard.language == "en" and 10 < heard.seconds < 12 and not heard.note


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_spoken_request_in_any_container_is_understood(engine: Engine, clips: dict[str, Path], fmt: str) -> None:
    """Through the engine (its catalog-biased recogniser and its vocabulary), as a shopper's clip goes."""
    heard = engine.transcribe(clips[fmt])
    assert "heel" in heard.text.lower(), heard.text
    u = engine.understand(heard.text)
    assert u.facets.get("article_type") == ("Heels",), heard.text
    assert u.max_price == 1500, heard.text


def test_8khz_stereo_works(engine: Engine, clips: dict[str, Path], vocab: Vocabulary) -> None:
    audio, note = decode_audio(clips["request-8k-stereo"].read_bytes(), 30)
    reference, _ = decode_audio(clips["wav"].read_bytes(), 30)
    assert audio.ndim == 1 and abs(len(audio) - len(reference)) < SAMPLE_RATE * 0.05 and not note
    heard = engine.transcribe(clips["request-8k-stereo"])
    assert "heel" in heard.text.lower() and understand(heard.text, vocab).max_price == 1500, heard.text


def test_a_long_clip_is_cut_with_a_note(engine: Engine, clips: dict[str, Path]) -> None:
    assert engine.settings.max_audio_seconds == 30
    heard = engine.transcribe(clips["long"])
    assert heard.seconds == pytest.approx(30.0, abs=0.01)
    assert "first 30 seconds" in heard.note
    assert "heel" in heard.text.lower()


@pytest.mark.parametrize("name", ["short", "silence"])
def test_too_short_or_silent_is_not_caught(model: Transcriber, clips: dict[str, Path], name: str) -> None:
    heard = transcribe(clips[name].read_bytes(), model)
    assert heard.text == "" and NOT_CAUGHT in heard.note


@pytest.mark.parametrize(("name", "words"), [("text", "doesn't look like an audio file"),
                                             ("bad-header", "doesn't look like an audio file"),
                                             ("header-only", "no sound")])
def test_not_audio_is_refused_clearly(model: Transcriber, clips: dict[str, Path], name: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        transcribe(clips[name].read_bytes(), model)
    with pytest.raises(InputError, match="empty"):
        transcribe(b"", model)


def test_engine_voice_path(engine: Engine, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the engine: a clip is heard and searched; silence gives the note and no search at all; bad audio
    is an error line, and the next query works. The transcriber is loaded once."""
    heard = engine.transcribe(clips["wav"])  # loads the model if nothing did yet
    assert "heel" in heard.text.lower()
    loaded = load_transcriber.cache_info()
    assert engine.transcribe(clips["wav"].read_bytes()).text == heard.text
    assert engine.transcribe(clips["flac"]).text
    now = load_transcriber.cache_info()
    assert now.misses == loaded.misses and now.hits == loaded.hits + 2  # loaded once, then reused

    searches: list[dict] = []
    real = engine.search

    def counted(**kwargs: object) -> SearchResult:
        searches.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(engine, "search", counted)
    lines = run_queries(engine, [
        {"qid": "silent", "audio": str(clips["silence"])},
        {"qid": "short", "audio": str(clips["short"])},
        {"qid": "text", "audio": str(clips["text"])},
        {"qid": "ok", "audio": str(clips["mp3"])},
    ])
    by = {line["qid"]: line for line in lines}
    assert NOT_CAUGHT in by["silent"]["error"] and by["silent"]["results"] == [] and by["silent"]["transcript"] == ""
    assert NOT_CAUGHT in by["short"]["error"]
    assert "audio" in by["text"]["error"] and by["text"]["results"] == []
    assert len(searches) == 1  # only the clip with words in it was searched
    assert "heel" in by["ok"]["transcript"].lower() and by["ok"]["results"]
    ok = engine.search(text=by["ok"]["transcript"], top_k=10)
    assert ok.understanding.max_price == 1500
    assert all(0 <= h.product["sale_price"] <= 1500 for h in ok.hits)


def test_chinese_speech_gives_chinese_text(engine: Engine, tmp_path: Path) -> None:
    """Mandarin (espeak-ng reads it from pinyin) is heard as Chinese, in Chinese characters, and its price
    limit and gender are understood: "I want a women's handbag under 1000 yuan"."""
    clip = say("wo3 xiang3 mai3 yi4 qian1 yuan2 yi3 xia4 de5 nv3 shi4 shou3 ti2 bao1", tmp_path / "zh.wav",
               rate=140, voice="cmn-latn-pinyin")
    heard = engine.transcribe(clip)
    assert heard.language == "zh" and "元以下" in heard.text and "女士" in heard.text, heard
    understood = engine.understand(heard.text)
    assert understood.max_price == 1000 and "Women" in understood.facets["gender"]


def test_decode_audio_shapes(clips: dict[str, Path]) -> None:
    reference, _ = decode_audio(clips["wav"].read_bytes(), 30)
    assert 2 < len(reference) / SAMPLE_RATE < 10
    for fmt in FORMATS:
        audio, note = decode_audio(clips[fmt].read_bytes(), 30)
        assert audio.dtype == np.float32 and audio.ndim == 1 and not note
        assert abs(len(audio) - len(reference)) < SAMPLE_RATE * 0.1  # codec padding aside, the same length
    audio, note = decode_audio(clips["long"].read_bytes(), 30)
    assert len(audio) == 30 * SAMPLE_RATE and "30 seconds" in note


SHOP_WORDS = frozenset({"women", "men", "blue", "grey", "t", "shirt", "shirts", "for", "red"})


def test_catalog_words_win_among_near_equal_hypotheses() -> None:
    heard = [("Women's booty shirt", -0.61), ("Women's beauty shirt", -0.69), ("Women's blue t shirt", -1.05)]
    assert pick_hypothesis(heard, SHOP_WORDS, margin=0.5) == "Women's blue t shirt"
    assert pick_hypothesis(heard, SHOP_WORDS, margin=0.3) == "Women's booty shirt"  # too unlikely: not taken
    assert pick_hypothesis(heard, frozenset(), margin=0.5) == "Women's booty shirt"  # no words: the best
    # equally known: the more likely one
    assert pick_hypothesis([("men's red shirt", -0.94), ("men's grey shirt", -0.95)], SHOP_WORDS, 0.5) == "men's red shirt"


def test_a_request_naming_a_product_wins() -> None:
    heard = [("black teal under 1500 rupees", -0.30), ("black heels under 1500 rupees", -0.45)]
    words = SHOP_WORDS | {"black", "teal", "heels", "under", "rupees"}
    assert pick_hypothesis(heard, words, 0.5) == "black teal under 1500 rupees"  # equally known: the likelier
    assert pick_hypothesis(heard, words, 0.5, names_product=lambda t: "heels" in t) == "black heels under 1500 rupees"
    assert pick_hypothesis(heard, words, 0.1, names_product=lambda t: "heels" in t) == heard[0][0]  # not within margin
    babble = [("I like the heels of women, I work", -0.60), ("black heels for women, I would", -0.65)]
    def named(text: str) -> int:  # the engine's count: type, person and colour named
        return sum(w in text for w in ("heels", "women", "black")) if "heels" in text else 0
    assert pick_hypothesis(babble, SHOP_WORDS | {"like", "work"}, 0.5, names_product=named) == babble[1][0]


def test_decoding_loops_are_dropped_or_cut_where_they_repeat() -> None:
    assert loops("black cap for men, black cap for men") and not loops("black cap for men") and not loops("")
    looping = [("black cap for men, black cap for men, black cap for men", -0.2), ("Black cap for men.", -0.4)]
    assert pick_hypothesis(looping, SHOP_WORDS, 0.5) == "Black cap for men."
    assert pick_hypothesis(looping[:1], SHOP_WORDS, 0.5) == "black cap for men"  # nothing else: said once
    assert unloop("women's black wallet for women, women's black wallet for women, women's black") == \
        "women's black wallet for women"
    assert unloop("men's red shirt for men") == "men's red shirt for men"  # a word again is not a loop
    assert unloop(JFK_SAID) == JFK_SAID  # nor words said again further on ("can do for" twice): kept whole
    assert pick_hypothesis([(JFK_SAID, -0.2)], SHOP_WORDS, 0.5) == JFK_SAID
    assert unloop("red red red red") == "red"


def test_one_word_spelt_two_ways_is_one_reading() -> None:
    """"gray" and "grey" are one word: split in two they are outvoted by a third reading; pooled they win,
    written as the shop spells it."""
    heard = [("Men's red socks", -0.50), ("Men's gray socks.", -0.51), ("Men's grey socks.", -0.53),
             ("men's red socks.", -0.60)]
    words = frozenset({"men", "red", "grey", "socks"})
    assert choose(heard, words, 0.5)[0].text == "Men's red socks"  # each spelling alone is outvoted
    chosen, found = choose(heard, words, 0.5, spellings={"gray": "grey"})
    assert chosen.text == "Men's grey socks." and len(found) == 2
    assert respell("Gray socks, gray colors", {"gray": "grey", "colors": "colours"}) == "Grey socks, grey colours"
    assert respell("grayish", {"gray": "grey"}) == "grayish" and respell("grey", {}) == "grey"  # whole words only


def test_chinese_and_empty_hypotheses() -> None:
    assert pick_hypothesis([("黑色高跟鞋", -0.3), ("黑色高根鞋", -0.4)], SHOP_WORDS, 0.5) == "黑色高跟鞋"
    assert pick_hypothesis([], SHOP_WORDS, 0.5) == ""
    assert pick_hypothesis([("men's red shirt", float("nan"))], SHOP_WORDS, 0.5) == "men's red shirt"  # unscored
