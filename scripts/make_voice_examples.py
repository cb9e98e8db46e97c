"""Make the app's offline voice examples: a few spoken English requests, synthesised with espeak-ng and
converted with ffmpeg to 16 kHz mono 16-bit WAV, into assets/voice/ (one .wav and one .txt per clip).

    python scripts/make_voice_examples.py [--out assets/voice] [--only N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# wordings that Whisper base hears right in espeak-ng's voice
REQUESTS = (
    "black heels under 1500 rupees",
    "blue shirts for men",
    "women's pink tops",
    "a black watch for men",
)
VOICE, SPEED, GAP = "en-us+m3", 125, 4  # espeak-ng voice, words per minute, pause between words (10 ms)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def speak(text: str, out: Path, voice: str = VOICE, speed: int = SPEED, gap: int = GAP) -> Path:
    """One request as a 16 kHz mono WAV file."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install espeak-ng ffmpeg)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-g", str(gap), "-w", str(raw), text], check=True)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1",
                        "-sample_fmt", "s16", "-map_metadata", "-1", "-fflags", "+bitexact", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "assets" / "voice"), help="folder for the clips")
    p.add_argument("--only", type=int, default=None, help="make only the first N clips")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for text in REQUESTS[: args.only]:
        clip = speak(text, out / f"{slug(text)}.wav")
        clip.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        print(f"{clip} ({clip.stat().st_size / 1000:.0f} kB): {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
