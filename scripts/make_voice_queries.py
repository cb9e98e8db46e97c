"""Speak a text query set in other voices: a voice query set for checking that speech search holds up
beyond the voices it was tuned on. Each text query becomes one clip per voice (espeak-ng, 16 kHz mono
WAV) with the same relevance judgements; `spoken` holds the words.

    python scripts/make_voice_queries.py --queries ../shared/eval/fashion-dev/text.jsonl \
        --out /tmp/voice-other [--voices en-gb-x-rp,en-us+f2,en-gb-scotland] [--only N]

Then `python -m assistant eval --queries /tmp/voice-other` scores it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", required=True, help="a JSONL of text queries (qid, text, relevant)")
    ap.add_argument("--out", required=True, help="folder for voice.jsonl and media/")
    ap.add_argument("--voices", default="en-gb-x-rp,en-us+f2,en-gb-scotland")
    ap.add_argument("--speed", type=int, default=150, help="words per minute")
    ap.add_argument("--only", type=int, default=0, help="the first N queries only")
    args = ap.parse_args()
    out = Path(args.out)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in Path(args.queries).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("text")][: args.only or None]
    lines = []
    for n, voice in enumerate(args.voices.split(",")):
        for row in rows:
            qid = f"{row['qid']}-v{n}"
            wav = out / "media" / f"{qid}.wav"
            raw = wav.with_suffix(".raw.wav")
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(args.speed), "-w", str(raw), row["text"]],
                           check=True, capture_output=True)
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(wav)],
                           check=True)
            raw.unlink()
            lines.append(json.dumps({"qid": qid, "kind": "voice", "relevant": row["relevant"],
                                     "facets": row.get("facets", {}), "spoken": row["text"],
                                     "audio": f"media/{wav.name}", "voice": voice}))
    (out / "voice.jsonl").write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} clips in {out}")


if __name__ == "__main__":
    main()
