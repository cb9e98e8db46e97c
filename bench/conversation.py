"""`make bench-conversation`: the conversation's photo turns against single photo searches of the same photos,
and a turn's warm latency (p50 / p95) for words, voice and photo turns.

Photo turns: every dialogue turn with a photo is played in its conversation (as `python -m assistant chat` plays
it) and again alone, in a fresh session with the same photo and words (a single photo search); both are scored
against what that turn asks for (its `must`, as ../shared/tools/score_dialogues.py scores it), so what the
conversation adds or loses on a photo shows beside what the photo side gets by itself.

Latency: the dialogues are played once to warm every model (the speech model loads on the first voice turn),
then `--repeats` times more; each turn's wall time is taken as `dialogues.play` takes it, by kind of turn: the
first words of a request, a follow-up in words, a voice turn (transcription included), a photo turn. The machine's
load average is printed with it (the cores may be shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from assistant.catalog import read_catalog
from assistant.chat import Assistant
from assistant.config import Settings
from assistant.dialogues import load_dialogues, play, score_turns
from assistant.engine import Engine
from assistant.evaluate import percentile

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEV_DIALOGUES = SHARED / "eval" / "fashion-dev-dialogues" / "dialogues.jsonl"
EARLIER_TURNS = ("not_ids_from_turn", "same_type_as_result", "cheaper_than_turn")  # no meaning in a turn alone


def photo_turns(assistant: Assistant, dialogues: list[dict], products: dict) -> list[dict]:
    """Per photo turn: its p@10 in the conversation and as a single search of the same photo and words."""
    rows = []
    for d in dialogues:
        if not any("image" in t for t in d["turns"]):
            continue
        played = play(assistant, d, assistant.depth)
        in_dialogue = score_turns(d, played, products)
        for i, turn in enumerate(d["turns"]):
            if "image" not in turn:
                continue
            must = {k: v for k, v in d["expect"][i]["must"].items() if k not in EARLIER_TURNS}
            alone = {"did": f"{d['did']}#{i}", "turns": [turn], "expect": [{**d["expect"][i], "must": must}]}
            single = score_turns(alone, play(assistant, alone, assistant.depth), products)[0]
            rows.append({"turn": f"{d['did']}#{i}", "words": turn.get("text", ""), "after_words": i > 0,
                         "conversation": in_dialogue[i]["p@10"], "single": single["p@10"]})
    return rows


def turn_kind(dialogue: dict, i: int) -> str:
    turn = dialogue["turns"][i]
    if "audio" in turn:
        return "voice"
    if "image" in turn:
        return "photo"
    return "words (first)" if i == 0 else "words (follow-up)"


def latency(assistant: Assistant, dialogues: list[dict], repeats: int) -> dict[str, list[float]]:
    """Warm wall times per kind of turn, in ms."""
    for d in dialogues:  # warm-up: every model loaded, caches as in a running app
        play(assistant, d, assistant.depth)
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for d in dialogues:
            for i, t in enumerate(play(assistant, d, assistant.depth)["turns"]):
                times.setdefault(turn_kind(d, i), []).append(t["latency_ms"])
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dialogues", default=str(DEV_DIALOGUES))
    ap.add_argument("--catalog", default=None, help="catalog for scoring (default: CATALOG_DIR)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    settings = Settings.from_env()
    assistant = Assistant(Engine(settings), depth=50)
    dialogues = load_dialogues(args.dialogues)
    products = {p.id: p for p in read_catalog(args.catalog or settings.catalog_dir).products}

    rows = photo_turns(assistant, dialogues, products)
    print(f"{'photo turn':16} {'words':28} {'conversation':>12} {'single':>8}")
    for r in rows:
        print(f"{r['turn']:16} {r['words'][:28]:28} {r['conversation']:>12.2f} {r['single']:>8.2f}")
    for name, subset in (("all", rows), ("after words", [r for r in rows if r["after_words"]])):
        if subset:
            def ok(key: str, rows: list[dict] = subset) -> str:
                return f"{sum(r[key] >= 0.8 for r in rows)}/{len(rows)} (p@10 {statistics.mean(r[key] for r in rows):.3f})"
            print(f"photo turns, {name}: conversation {ok('conversation')}, single photo searches {ok('single')}")

    times = latency(assistant, dialogues, args.repeats)
    print(f"\nturn latency, warm ({args.repeats} plays of {len(dialogues)} dialogues; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'turn':20} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for kind in ("words (first)", "words (follow-up)", "voice", "photo"):
        if kind in times:
            v = times[kind]
            print(f"{kind:20} {len(v):>5} {percentile(v, 0.5):>9.1f} {percentile(v, 0.95):>9.1f}")
    words = times.get("words (first)", []) + times.get("words (follow-up)", [])
    print(f"{'words (all)':20} {len(words):>5} {percentile(words, 0.5):>9.1f} {percentile(words, 0.95):>9.1f}")


if __name__ == "__main__":
    main()
