"""Shoppers' uploads: what gradio saved for them is read into memory and deleted at once (`discard_upload`);
a recording is told from a photo by its first bytes. Nothing of them is stored or logged."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError

AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".flac", ".webm", ".opus", ".aac", ".amr", ".3gp", ".3gpp",
                  ".mp4"}
# what the chat box accepts: browsers label .webm and .3gp recordings video/…, so they are named here
ATTACHABLE = ["image", "audio", *sorted(AUDIO_SUFFIXES)]


def upload_folder() -> Path:
    """Where gradio saves uploads (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def discard_upload(path: str | Path | None) -> None:
    """Delete a file gradio saved for a shopper's upload (and its folder if empty). Files outside
    gradio's upload folder (our examples, catalog photos) are never touched."""
    if not path:
        return
    p = Path(path).resolve()
    root = upload_folder()
    if root not in p.parents:
        return
    p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        p.parent.rmdir()


def read_and_discard(path: str | Path) -> bytes:
    """An upload's bytes, its file deleted straight away."""
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InputError("that file could not be read; please try again") from None
    finally:
        discard_upload(path)


def is_audio(path: str | Path, data: bytes = b"") -> bool:
    """A recording rather than a photo: by its first bytes when known, else by its name."""
    head = data[:16]
    if head:
        if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\0", b"MM\0*")) or head[8:12] == b"WEBP":
            return False
        if head[4:8] == b"ftyp":  # MP4 family: HEIC/AVIF photos or M4A/MP4/3GP sound
            return head[8:12] not in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc")
        if head.startswith((b"OggS", b"fLaC", b"ID3", b"\x1aE\xdf\xa3", b"#!AMR", b"\xff\xf1", b"\xff\xf9", b"\xff\xfb",
                            b"\xff\xf3", b"\xff\xf2")) or (head.startswith(b"RIFF") and head[8:12] == b"WAVE"):
            return True
    kind = mimetypes.guess_type(str(path))[0] or ""
    return kind.startswith(("audio/", "video/")) or Path(path).suffix.lower() in AUDIO_SUFFIXES


def read_uploads(files: Sequence[Any]) -> tuple[bytes | None, bytes | None]:
    """(first photo, first recording) of what was attached, read into memory; every upload file is
    deleted, used or not."""
    photo = audio = None
    paths = [f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", None))
             for f in files or ()]
    try:
        for path in paths:
            if not path:
                continue
            data = read_and_discard(path)
            if is_audio(path, data):
                audio = data if audio is None else audio
            else:
                photo = data if photo is None else photo
    finally:
        for path in paths:
            discard_upload(path)
    return photo, audio
