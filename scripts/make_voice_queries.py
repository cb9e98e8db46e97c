"""Speak text query sets in other voices: voice query sets for checking that speech search holds up
beyond the voices and rooms it was tuned on. Each text query becomes a clip (espeak-ng, 16 kHz mono WAV)
with the same relevance judgements; `spoken` holds the words.

Without --rooms, every query is spoken by every voice, clean:

    python scripts/make_voice_queries.py --queries ../shared/eval/fashion-dev/text.jsonl \
        --out /tmp/voice-other [--voices en-gb-x-rp,en-us+f2,en-gb-scotland] [--only N]

With --rooms, each query is spoken once, by a voice and at a pace drawn for it, and that one clip is
heard in every room of `bench/rooms.py` (clean, noise at 20/10/5 dB SNR — white, pink, brown or other
people talking —, echo, 8 kHz phone line, clipped, quiet with silence around it); the kind of each
line is `room-<room>`, so an eval scores every room on the same requests. The held-out set of the
README (other voices, other requests than the dev voice sets, seeded):

    python scripts/make_voice_queries.py --rooms all --seed 17 --only 30 \
        --queries ../shared/eval/fashion-dev/text.jsonl ../shared/eval/fashion-dev/filter.jsonl \
        --exclude ../shared/eval/fashion-dev/voice.jsonl --out /tmp/voice-rooms \
        --voices en-029,en-gb-x-gbclan,en-us-nyc+f3,en-gb-x-gbcwmd+m4

Then `python -m assistant eval --queries /tmp/voice-rooms` scores it (`make eval-rooms` does both).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.rooms import ROOMS, SAMPLE_RATE, read_wav, write_wav

BABBLE = ("can you show me something for a wedding", "what time does the shop close today",
          "I think the blue one looked better on you", "let's get coffee after this")


def speak(text: str, voice: str, speed: int, out: Path) -> Path:
    """espeak-ng's words as a 16 kHz mono WAV."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-ar", str(SAMPLE_RATE), "-ac", "1", str(out)],
                   check=True)
    raw.unlink()
    return out


def line(row: dict, qid: str, kind: str, wav: Path, voice: str, **extra: object) -> str:
    return json.dumps({"qid": qid, "kind": kind, "relevant": row["relevant"], "facets": row.get("facets", {}),
                       **({"must": row["must"]} if "must" in row else {}), "spoken": row["text"],
                       "audio": f"media/{wav.name}", "voice": voice, **extra})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", required=True, nargs="+", help="JSONL files of text queries (qid, text, relevant)")
    ap.add_argument("--out", required=True, help="folder for voice.jsonl and media/")
    ap.add_argument("--voices", default="en-gb-x-rp,en-us+f2,en-gb-scotland")
    ap.add_argument("--speed", type=int, default=150, help="words per minute (with --rooms: the middle of ±15)")
    ap.add_argument("--only", type=int, default=0, help="the first N queries only (with --rooms: N drawn at random)")
    ap.add_argument("--rooms", default="", help=f"'all' or some of {','.join(ROOMS)}")
    ap.add_argument("--exclude", nargs="*", default=[], help="query sets whose spoken requests are left out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows = [json.loads(s) for q in args.queries for s in Path(q).read_text().splitlines() if s.strip()]
    taken = {json.loads(s).get("spoken") for q in args.exclude for s in Path(q).read_text().splitlines() if s.strip()}
    rows = [r for r in rows if r.get("text") and r["text"] not in taken]
    voices = args.voices.split(",")
    lines = []
    if not args.rooms:
        for n, voice in enumerate(voices):
            for row in rows[: args.only or None]:
                wav = speak(row["text"], voice, args.speed, out / "media" / f"{row['qid']}-v{n}.wav")
                lines.append(line(row, f"{row['qid']}-v{n}", "voice", wav, voice))
    else:
        rooms = list(ROOMS) if args.rooms == "all" else args.rooms.split(",")
        rng = np.random.default_rng(args.seed)
        if args.only:
            rows = [rows[i] for i in sorted(rng.choice(len(rows), size=min(args.only, len(rows)), replace=False))]
        with tempfile.TemporaryDirectory() as tmp:
            others = [read_wav(speak(t, voices[i % len(voices)], args.speed, Path(tmp) / f"babble{i}.wav"))
                      for i, t in enumerate(BABBLE)]
            for n, row in enumerate(rows):
                voice, speed = voices[n % len(voices)], args.speed + int(rng.integers(-15, 16))
                said = read_wav(speak(row["text"], voice, speed, Path(tmp) / "said.wav"))
                for room in rooms:
                    audio, rate = ROOMS[room](said, rng, others)
                    wav = write_wav(out / "media" / f"{row['qid']}-{room}.wav", audio, rate)
                    lines.append(line(row, f"{row['qid']}-{room}", f"room-{room}", wav, voice, room=room, speed=speed))
    (out / "voice.jsonl").write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} clips in {out}")


if __name__ == "__main__":
    main()
