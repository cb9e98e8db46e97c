"""The bad-input corpus, made by the tests at test time (nothing binary is committed): photos, voice clips and
request words a shopper (or a careless caller) might send, each with what the assistant must do with it —
refuse it with a clear message, say it didn't catch anything, or simply work (odd but valid input).

Used by test_bad_input.py (engine, CLI, chat handlers, API) and test_privacy.py."""

from __future__ import annotations

import io
import struct
import subprocess
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

Expect = Literal["works", "refused", "unheard"]


@dataclass(frozen=True)
class Case:
    name: str  # the file name (photos, clips) or a short label (words)
    expect: Expect  # works: results; refused: an InputError; unheard: "didn't catch that", no search
    words: str = ""  # a regex the message must match (the error, or the note of a clip that works)
    text: str = ""  # the request, for word cases


IMAGES = [
    Case("zero.jpg", "refused", "empty"),
    Case("truncated.jpg", "refused", "damaged or cut short"),
    Case("huge-10000x10000.png", "refused", "too large"),
    Case("bomb-50000x50000.png", "refused", "too large"),
    Case("drawing.svg", "refused", "SVG drawings are not supported"),
    Case("text.jpg", "refused", "not a photo"),
    Case("cmyk.jpg", "works"),
    Case("16-bit.png", "works"),
    Case("16-bit-grey.png", "works"),
    Case("greyscale.jpg", "works"),
    Case("animated.gif", "works"),
]

AUDIO = [
    Case("text.wav", "refused", "doesn't look like an audio file"),
    Case("empty.wav", "refused", "empty"),
    Case("corrupt-header.wav", "refused", "doesn't look like an audio file"),
    Case("tenth-of-a-second.wav", "unheard", "didn't catch that"),
    Case("silence.wav", "unheard", "didn't catch that"),
    Case("five-minutes.wav", "works", "first 30 seconds"),
    Case("8khz-stereo.wav", "works"),
]
SPOKEN = "blue shirts for men"  # what the clips that work say (the five-minute one, then silence)

TEXTS = [
    Case("empty", "refused", "(?i)tell me what you('re| are) looking for", text=""),
    Case("blank", "refused", "(?i)tell me what you('re| are) looking for", text=" \n\t "),
    Case("10kB", "refused", "too long", text="blue shirts " * 850),
    Case("emoji", "refused", "couldn't find anything to search for", text="👗👠💄✨🛍️"),
    Case("html", "works", text='<script>alert("hi")</script><img src=x onerror=alert(1)> red dress'),
    Case("sql", "works", text="shirts'; DROP TABLE products; --"),
    Case("sql-or", "works", text="' OR 1=1; DELETE FROM embeddings WHERE '1'='1"),
    Case("control", "works", text="black\x00 watch\u202e\u200b"),
]


# ---------------------------------------------------------------------------------------------------
# photos
# ---------------------------------------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, depth: int = 8, colour: int = 2, level: int = 9) -> bytes:
    """A valid, plain white PNG streamed row by row (10,000 × 10,000 costs no 300 MB array).
    colour 0 = grey, 2 = RGB; depth 1, 8 or 16; zlib `level` (1 is quicker for the very large)."""
    channels = {0: 1, 2: 3}[colour]
    row = b"\0" + b"\xff" * ((width * channels * depth + 7) // 8)
    z = zlib.compressobj(level)
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def _png16(rgb: np.ndarray) -> bytes:
    """A real 16-bit-per-channel PNG (Pillow writes 8 bits for RGB, so the rows are written here)."""
    h, w = rgb.shape[:2]
    arr = rgb.astype(np.uint16) * 257
    colour = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def make_images(folder: Path, photo: bytes) -> dict[str, Path]:
    """Every photo case as a file; the valid-but-odd ones are made from `photo` (a real product photo)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = Image.open(io.BytesIO(photo)).convert("RGB")
    rgb = np.asarray(src)
    jpeg = _save(src, "JPEG", quality=95)
    second = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P", palette=Image.Palette.ADAPTIVE)
    files = {
        "zero.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "huge-10000x10000.png": png(10_000, 10_000, colour=0),
        "bomb-50000x50000.png": png(50_000, 50_000, depth=1, colour=0, level=1),  # 2.5 gigapixels in 1.3 MB
        "drawing.svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="60" height="80">'
                       b'<rect width="60" height="80" fill="navy"/></svg>\n',
        "text.jpg": b"Dear shopper,\nthis is a text file with a .jpg name.\n",
        "cmyk.jpg": _save(src.convert("CMYK"), "JPEG", quality=95),
        "16-bit.png": _png16(rgb),
        "16-bit-grey.png": _png16(np.asarray(src.convert("L"))),
        "greyscale.jpg": _save(src.convert("L"), "JPEG", quality=95),
        "animated.gif": _save(src.convert("P", palette=Image.Palette.ADAPTIVE), "GIF", save_all=True,
                              append_images=[second], duration=200, loop=0),
    }
    assert set(files) == {c.name for c in IMAGES}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


# ---------------------------------------------------------------------------------------------------
# voice clips
# ---------------------------------------------------------------------------------------------------
def wav_bytes(samples: np.ndarray, rate: int = 16_000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return out.getvalue()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make_audio(folder: Path) -> dict[str, Path]:
    """Every voice case as a file (espeak-ng speaks; ffmpeg resamples and pads)."""
    folder.mkdir(parents=True, exist_ok=True)
    speech = folder / "speech.espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-g", "8", "-w", str(speech), SPOKEN], check=True,
                   capture_output=True)
    _ffmpeg("-i", str(speech), "-ar", "8000", "-ac", "2", str(folder / "8khz-stereo.wav"))
    _ffmpeg("-i", str(speech), "-af", "apad=whole_dur=300", "-ar", "16000", "-ac", "1", str(folder / "five-minutes.wav"))
    good = (folder / "8khz-stereo.wav").read_bytes()
    corrupt = bytearray(good)
    corrupt[12:44] = b"\xde\xad\xbe\xef" * 8  # the fmt chunk: garbage where the format should be
    files = {
        "text.wav": b"This is a text file with a .wav name, not a recording.\n",
        "empty.wav": b"",
        "corrupt-header.wav": bytes(corrupt),
        "tenth-of-a-second.wav": wav_bytes(np.sin(np.arange(1600) / 4) * 8000),
        "silence.wav": wav_bytes(np.zeros(16_000 * 3)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    speech.unlink()
    out = {c.name: folder / c.name for c in AUDIO}
    assert all(p.is_file() for p in out.values())
    return out
