"""Speech in real rooms: one spoken request (espeak-ng) heard through noise, other people talking, echo,
an 8 kHz phone line, clipping, and a quiet speaker with silence around the words (`bench.rooms`), each
step of `speech.prepare` and a noisy room's other hearings (`speech.heard_again`) checked on those clips,
and the request still understood through the engine. Also the choice among readings (support shares) and
the alternatives offered when unsure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import say

from assistant.audio import frame_levels, normalise_loudness, slowed, snr_db, speech_span
from assistant.engine import Engine
from assistant.speech import (
    Listening,
    choose,
    decode_audio,
    heard_again,
    prepare,
    readings,
    tidy,
    transcribe,
)
from bench import rooms

pytestmark = pytest.mark.slow

REQUEST = "black heels for women"
OTHERS = ("what time does the shop close today", "I think the blue one looked better on you")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list[np.ndarray]]:
    """The request and two other people's chatter, as 16 kHz float32."""
    d = tmp_path_factory.mktemp("rooms")
    said = rooms.read_wav(say(REQUEST, d / "request.wav", voice="en-gb-x-rp"))
    others = [rooms.read_wav(say(t, d / f"other{n}.wav", voice=v))
              for n, (t, v) in enumerate(zip(OTHERS, ("en-us", "en-029"), strict=True))]
    return said, others


def clip(audio: np.ndarray, path: Path, rate: int = rooms.SAMPLE_RATE) -> bytes:
    return rooms.write_wav(path, audio, rate).read_bytes()


def understood(engine: Engine, data: bytes) -> None:
    heard = engine.transcribe(data)
    u = engine.understand(heard.text)
    assert u.facets.get("article_type") == ("Heels",) and u.facets.get("base_colour") == ("Black",), heard
    assert 0 < heard.confidence <= 1


@pytest.mark.parametrize(("kind", "snr"), [("pink", 10), ("babble", 15)])
def test_noise(engine: Engine, spoken: tuple, tmp_path: Path, kind: str, snr: float) -> None:
    """Pink noise at 10 dB SNR, other people talking at 15 dB."""
    said, others = spoken
    rng = np.random.default_rng(1)
    noise = rooms.babble(others, len(said), rng) if kind == "babble" else rooms.coloured_noise(kind, len(said), rng)
    noisy = rooms.mix(said, noise, snr)
    assert snr_db(said) > 40
    if kind == "pink":  # steady noise: the estimate sees the room (chatter has gaps: it reads higher)
        assert snr - 5 < snr_db(noisy) < snr + 10
    understood(engine, clip(noisy, tmp_path / "noisy.wav"))


def test_noise_is_suppressed_when_the_room_is_loud(spoken: tuple) -> None:
    """Below the SNR threshold the clip is denoised (DeepFilterNet3): the room between words drops."""
    said, _ = spoken
    noisy = rooms.mix(said, rooms.coloured_noise("white", len(said), np.random.default_rng(2)), 5)
    plain = condition(noisy, Listening(denoise_below_snr_db=0))
    cleaned = condition(noisy, Listening(denoise_below_snr_db=30))
    assert plain is not None and cleaned is not None and len(plain) == len(cleaned)
    assert snr_db(cleaned) > snr_db(plain) + 10
    quiet = condition(said, Listening(denoise_below_snr_db=30))  # a clean clip is left as it is
    assert quiet is not None and np.array_equal(quiet, condition(said, Listening(denoise_below_snr_db=0)))


def condition(audio: np.ndarray, listening: Listening) -> np.ndarray | None:
    """What the recognisers hear first of a clip (`speech.prepare`); None when it holds no words."""
    ready = prepare(audio, listening)
    return None if ready is None else ready.first


def hearings(audio: np.ndarray, listening: Listening) -> list[np.ndarray]:
    """Every hearing the recognisers get of a clip, the first first, as `speech.transcribe` makes them."""
    ready = prepare(audio, listening)
    return [] if ready is None else [ready.first, *heard_again(ready, listening)]


def test_a_noisy_room_is_heard_three_ways(spoken: tuple) -> None:
    """A clean clip is heard once; a clip from a noisy room three times: as conditioned, with the other choice of
    denoising, and slowed (the recognisers' n-best lists of the three are pooled)."""
    said, _ = spoken
    listening = Listening()
    assert len(hearings(said, listening)) == 1
    assert np.array_equal(hearings(said, listening)[0], condition(said, listening))  # type: ignore[arg-type]
    rng = np.random.default_rng(4)
    room = rooms.mix(said, rooms.coloured_noise("pink", len(said), rng), 20)  # over the denoising threshold
    assert listening.denoise_below_snr_db < snr_db(normalise_loudness(room, -20, 40)) < listening.hear_again_below_snr_db
    first, denoised, slow = hearings(room, listening)
    assert np.array_equal(first, condition(room, listening))  # type: ignore[arg-type]
    assert len(denoised) == len(first) and snr_db(denoised) > snr_db(first)
    assert len(slow) == pytest.approx(len(first) / listening.slow_rate, abs=2)
    loud = rooms.mix(said, rooms.coloured_noise("white", len(said), rng), 5)  # under it: denoised first
    first, plain, _ = hearings(loud, listening)
    assert snr_db(first) > snr_db(plain) + 10 and np.array_equal(plain, condition(loud, Listening(denoise_below_snr_db=0)))
    assert len(hearings(room, Listening(hear_again_below_snr_db=0))) == 1  # turned off
    assert hearings(np.zeros(16_000, np.float32), listening) == []  # silence: nothing to hear


def test_slowed_keeps_the_words_and_lowers_them() -> None:
    t = np.arange(16_000) / 16_000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    slow = slowed(tone, 0.9)
    assert slow.dtype == np.float32 and len(slow) == pytest.approx(16_000 / 0.9, abs=2)
    peak = np.argmax(np.abs(np.fft.rfft(slow))) * 16_000 / len(slow)
    assert peak == pytest.approx(440 * 0.9, abs=3)
    assert np.allclose(slowed(tone, 1.0), tone, atol=1e-5)


def test_echo(engine: Engine, spoken: tuple, tmp_path: Path) -> None:
    said, others = spoken
    rng = np.random.default_rng(3)
    wet = rooms.echo(said, 0.7, rng)
    assert len(wet) == len(said) and np.corrcoef(wet, said)[0, 1] < 0.95  # really reverberant
    understood(engine, clip(rooms.noisy(20)(wet, rng, others)[0], tmp_path / "echo.wav"))


def test_8khz_phone_line(engine: Engine, spoken: tuple, tmp_path: Path) -> None:
    said, _ = spoken
    data = clip(rooms.phone(said), tmp_path / "phone.wav", 8000)
    audio, _ = decode_audio(data, 30)
    assert abs(len(audio) - len(said)) < 100  # decoded back to 16 kHz
    understood(engine, data)


def test_clipped_speaker(engine: Engine, spoken: tuple, tmp_path: Path) -> None:
    """Peaks 14 dB over full scale, cut flat: heard as it is (rebuilding the peaks measured worse)."""
    said, _ = spoken
    loud = rooms.clipped(said, 14)
    assert np.mean(np.abs(loud) >= 0.999) > 0.02
    assert np.max(np.abs(normalise_loudness(loud, -20, 40))) <= 1.0  # brought down, not over full scale
    understood(engine, clip(loud, tmp_path / "clipped.wav"))


def test_quiet_speaker_with_silence_around(engine: Engine, spoken: tuple, tmp_path: Path) -> None:
    """Peaks at -40 dBFS, 2.5 s of faint hiss either side: brought to speaking level and cut to the words."""
    said, _ = spoken
    rng = np.random.default_rng(4)
    quiet = rooms.padded(rooms.gain(said, -40 - 20 * np.log10(np.max(np.abs(said)))), 2.5, 2.5, rng)
    louder = normalise_loudness(quiet, -20, 40)
    assert np.percentile(frame_levels(louder), 90) > 10 * np.percentile(frame_levels(quiet), 90)
    span = speech_span(louder, 0.5, 0.3)
    assert span is not None and len(span) < len(quiet) - 4 * rooms.SAMPLE_RATE
    understood(engine, clip(quiet, tmp_path / "quiet.wav"))


def test_hiss_alone_is_not_caught(engine: Engine, tmp_path: Path) -> None:
    hiss = rooms.padded(np.zeros(0, np.float32), 1.5, 1.5, np.random.default_rng(5), floor_db=-60)
    heard = engine.transcribe(clip(hiss, tmp_path / "hiss.wav"))
    assert heard.text == "" and "didn't catch" in heard.note


def test_readings_pool_the_same_words() -> None:
    """Hypotheses differing only in case and punctuation are one reading; several agreeing outweigh one likelier."""
    heard = [("Men's red socks", -0.51), ("Men's grey socks.", -0.55), ("men's grey socks", -0.60),
             ("Men's grey socks,", -0.62), ("men's red socks.", -0.75)]
    found = readings(heard, 0.2)
    assert [r.text for r in found] == ["Men's grey socks.", "Men's red socks"]
    assert found[0].share > 0.5 and sum(r.share for r in found) == pytest.approx(1.0)
    words = frozenset({"men", "red", "grey", "socks"})
    chosen, _ = choose(heard, words, 0.5)
    assert chosen.text == "Men's grey socks."
    assert choose(heard, words, 0.5, temperature=0.01)[0].text == "Men's red socks"  # sharp: the single best wins
    assert tidy("Black heels under 1,500 rupees.") == "Black heels under 1500 rupees"


def test_a_reading_naming_what_the_catalog_holds_wins(engine: Engine) -> None:
    """Among near-equal readings, one naming a product the catalog holds (its type, one kind of person, and
    some product with every facet named) wins over one naming a combination no product has, or two genders."""
    meta = list(engine.index.metadata().values())
    held = {(m["gender"], m["article_type"], m["base_colour"]) for m in meta}
    gender, kind, colour = max(held, key=lambda h: (h[0] in ("Men", "Women"), sum(m["article_type"] == h[1] for m in meta)))
    missing = next(c for c in sorted({m["base_colour"] for m in meta})
                   if (gender, kind, c) not in held and ("Unisex", kind, c) not in held)  # men's: unisex too
    other = "Women" if gender == "Men" else "Men"
    said, misheard = f"{gender} {colour} {kind}", f"{gender} {missing} {kind}"
    assert engine._names_product(said) and not engine._names_product(misheard)
    assert not engine._names_product(f"{said} for {other}")
    heard = [(misheard, -0.40), (said, -0.55), (f"{said} for {other}", -0.41)]
    chosen, _ = choose(heard, engine.speech_words, 0.5, engine._names_product)
    assert chosen.text == said
    assert choose(heard, engine.speech_words, 0.1, engine._names_product)[0].text == misheard  # not within margin


def test_unsure_readings_are_offered(engine: Engine, tmp_path: Path) -> None:
    """Unsure (the chosen reading's share below `unsure_below`): other readings that name a product and mean
    something else come back as alternatives; sure, none. The real recognisers on a noisy clip."""
    data = clip(rooms.mix(rooms.read_wav(say("men's grey shirt", tmp_path / "grey.wav", voice="en-gb-scotland")),
                          rooms.coloured_noise("white", 40_000, np.random.default_rng(6)), 5), tmp_path / "noisy.wav")
    model = engine_model(engine)
    args = (engine.speech_prompts, ("en", "zh"), engine.speech_words, engine._names_product, engine._meaning)
    sure = transcribe(data, model, 30, *args, listening=Listening(unsure_below=0.0))
    unsure = transcribe(data, model, 30, *args, listening=Listening(unsure_below=1.01, alternative_share=0.0))
    assert sure.text == unsure.text and sure.alternatives == ()
    assert unsure.alternatives and len(unsure.alternatives) <= 2
    meanings = {engine._meaning(unsure.text), *(engine._meaning(a) for a in unsure.alternatives)}
    assert len(meanings) == 1 + len(unsure.alternatives)
    assert all(engine._names_product(a) for a in unsure.alternatives)


def engine_model(engine: Engine):
    from assistant.speech import load_transcriber

    s = engine.settings
    return load_transcriber(s.speech_model, str(s.cache_path), s.speech_threads, s.speech_window_seconds)
