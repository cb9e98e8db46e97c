"""Rooms a shopper speaks in, simulated on clean 16 kHz speech: background noise (white, pink, brown or
other people talking) at a signal-to-noise ratio, room echo, an 8 kHz phone line, clipping from a loud
speaker, and a quiet speaker with silence around the words. Used to make held-out noisy voice query
sets (`scripts/make_voice_queries.py`) and the speech tests' clips; seeded, so a set is reproducible."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import gcd
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

SAMPLE_RATE = 16_000
NOISES = ("white", "pink", "brown", "babble")


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) if len(a) else 0.0


def resample(a: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    g = gcd(rate_in, rate_out)
    return resample_poly(a, rate_out // g, rate_in // g).astype(np.float32)


def coloured_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: white (flat), pink (1/f, a fan or a crowd far away) or brown (1/f², traffic, rumble)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
    spectrum *= {"white": 1.0, "pink": 1 / np.sqrt(f), "brown": 1 / f}[kind]
    noise = np.fft.irfft(spectrum, n)
    return (noise / (rms(noise) or 1.0)).astype(np.float32)


def babble(voices: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS chatter: other people's speech, each looped from a random offset, summed."""
    out = np.zeros(n, np.float32)
    for v in voices:
        looped = np.tile(v, n // len(v) + 2)
        start = int(rng.integers(0, len(v)))
        out += looped[start:start + n] / (rms(v) or 1.0)
    return (out / (rms(out) or 1.0)).astype(np.float32)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech with noise under it at `snr_db` (speech power measured where it speaks: its louder frames)."""
    frames = speech[: len(speech) // 320 * 320].reshape(-1, 320)
    level = np.sqrt(np.mean(np.square(frames), axis=1))
    voiced = level[level > 0.1 * level.max()] if len(level) else level
    power = float(np.sqrt(np.mean(np.square(voiced)))) if len(voiced) else rms(speech)
    return (speech + noise[: len(speech)] * power / 10 ** (snr_db / 20)).astype(np.float32)


def echo(a: np.ndarray, rt60: float, rng: np.random.Generator, wet: float = 0.6) -> np.ndarray:
    """A room's reverberation: the dry sound plus a decaying diffuse tail (an exponentially decaying
    noise impulse response reaching -60 dB after `rt60` seconds)."""
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * 10 ** (-3 * t / rt60)
    tail[: int(0.005 * SAMPLE_RATE)] = 0  # first reflections arrive a few ms after the direct sound
    ir = np.concatenate([[1.0], wet * tail / np.sqrt(np.sum(tail**2))])
    out = fftconvolve(a, ir)[: len(a)]
    return (out * (rms(a) / (rms(out) or 1.0))).astype(np.float32)


def phone(a: np.ndarray) -> np.ndarray:
    """A phone line: 300-3400 Hz, sampled at 8 kHz (returned at 8 kHz)."""
    band = sosfilt(butter(6, (300, 3400), "bandpass", fs=SAMPLE_RATE, output="sos"), a)
    return resample(band.astype(np.float32), SAMPLE_RATE, 8000)


def gain(a: np.ndarray, db: float) -> np.ndarray:
    return (a * 10 ** (db / 20)).astype(np.float32)


def clipped(a: np.ndarray, over_db: float = 12.0) -> np.ndarray:
    """A speaker too loud for the microphone: peaks `over_db` above full scale, cut flat at ±1."""
    peak = float(np.max(np.abs(a))) or 1.0
    return np.clip(a / peak * 10 ** (over_db / 20), -1.0, 1.0).astype(np.float32)


def padded(a: np.ndarray, lead: float, trail: float, rng: np.random.Generator, floor_db: float = -70.0) -> np.ndarray:
    """Silence (a faint hiss at `floor_db` dBFS) before and after the words."""
    out = np.concatenate([np.zeros(int(lead * SAMPLE_RATE), np.float32), a, np.zeros(int(trail * SAMPLE_RATE), np.float32)])
    return (out + coloured_noise("white", len(out), rng) * 10 ** (floor_db / 20)).astype(np.float32)


Room = Callable[[np.ndarray, np.random.Generator, Sequence[np.ndarray]], tuple[np.ndarray, int]]


def noisy(snr_db: float) -> Room:
    """Noise of a kind drawn per clip (white, pink, brown, other voices) at `snr_db`."""
    def room(a: np.ndarray, rng: np.random.Generator, others: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
        kind = NOISES[int(rng.integers(len(NOISES)))]
        noise = babble(others, len(a), rng) if kind == "babble" else coloured_noise(kind, len(a), rng)
        return mix(a, noise, snr_db), SAMPLE_RATE
    return room


def _echo_room(a: np.ndarray, rng: np.random.Generator, others: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    return noisy(20)(echo(a, float(rng.uniform(0.4, 0.8)), rng), rng, others)


def _phone_room(a: np.ndarray, rng: np.random.Generator, others: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    return phone(noisy(20)(a, rng, others)[0]), 8000


def _clipped_room(a: np.ndarray, rng: np.random.Generator, others: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    return clipped(a, float(rng.uniform(10, 16))), SAMPLE_RATE


def _quiet_room(a: np.ndarray, rng: np.random.Generator, others: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    quiet = gain(a, -40 - 20 * np.log10(max(float(np.max(np.abs(a))), 1e-6)))  # peaks at -40 dBFS
    return padded(quiet, float(rng.uniform(1, 3)), float(rng.uniform(1, 3)), rng), SAMPLE_RATE


ROOMS: dict[str, Room] = {
    "clean": lambda a, rng, others: (a, SAMPLE_RATE),
    "snr20": noisy(20), "snr10": noisy(10), "snr5": noisy(5),
    "echo": _echo_room,  # a reverberant room (RT60 0.4-0.8 s), noise at 20 dB
    "phone": _phone_room,  # 8 kHz phone band, noise at 20 dB
    "clipped": _clipped_room,  # peaks 10-16 dB over full scale
    "quiet": _quiet_room,  # peaks at -40 dBFS, 1-3 s of silence either side
}


def read_wav(path: Path) -> np.ndarray:
    """A WAV file as 16 kHz mono float32."""
    rate, data = wavfile.read(path)
    a = data.astype(np.float32) / (32768.0 if data.dtype == np.int16 else 1.0)
    a = a.mean(axis=1) if a.ndim == 2 else a
    return resample(a, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else a


def write_wav(path: Path, a: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """16-bit PCM (anything beyond full scale is cut, as a recorder would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, (np.clip(a, -1.0, 1.0) * 32767).astype(np.int16))
    return path
