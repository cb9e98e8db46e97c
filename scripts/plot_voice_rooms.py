"""Chart WER and P@10 per room (noise level) of a held-out voice set (`make_voice_queries.py --rooms`),
from `python -m assistant eval --json` summaries: one bar per summary (e.g. before / after), one group per room.

    python scripts/plot_voice_rooms.py --out assets/voice-rooms.png before=/tmp/rooms-before.json after=/tmp/rooms.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOMS = ("clean", "snr20", "snr10", "snr5", "echo", "phone", "clipped", "quiet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summaries", nargs="+", help="name=summary.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    named = [s.split("=", 1) for s in args.summaries]
    data = {name: json.loads(Path(path).read_text()) for name, path in named}
    rooms = [r for r in ROOMS if any(f"room-{r}" in s for s in data.values())]
    width = 0.8 / len(data)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, metric, title in ((axes[0], "wer", "WER (lower is better)"), (axes[1], "p@10", "P@10 (higher is better)")):
        for n, (name, s) in enumerate(data.items()):
            values = [s.get(f"room-{r}", {}).get(metric, float("nan")) for r in rooms]
            ax.bar(np.arange(len(rooms)) + n * width, values, width, label=name)
        ax.set_xticks(np.arange(len(rooms)) + width * (len(data) - 1) / 2, rooms)
        ax.set_title(title)
        ax.set_ylim(0, 1.0)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(data), frameon=False)  # under the charts, off the bars
    fig.suptitle("Held-out voices and requests, per room (30 requests each)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"chart saved to {args.out}")


if __name__ == "__main__":
    main()
