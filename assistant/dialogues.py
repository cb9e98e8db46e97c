"""The dialogue benchmark: multi-turn conversations played through the app's own conversation logic
(`chat.Assistant`, a fresh session per dialogue) and scored per turn against catalog constraints, with the
same definitions and the same printed table as the judging script `../shared/tools/score_dialogues.py`."""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .catalog import Product
from .chat import Assistant
from .errors import InputError
from .evaluate import percentile
from .index import IndexUnavailable
from .session import Session

LIST_FIELDS = ("gender", "article_type", "base_colour", "usage", "brand")
KNOWN = {*LIST_FIELDS, "max_price", "min_price", "not_brand", "not_ids_from_turn", "same_type_as_result",
         "cheaper_than_turn"}
TOP = 10
SUCCESS_P = 0.8


def load_dialogues(path: str | Path) -> list[dict]:
    """Dialogue lines, with each turn's photo and voice paths made absolute (they are relative to the file)."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path.name} line {n} is not valid JSON ({e.msg})") from None
        if not isinstance(d, dict) or not d.get("did") or not isinstance(d.get("turns"), list):
            raise InputError(f"{path.name} line {n} is not a dialogue (it needs a did and a list of turns)")
        for turn in d["turns"]:
            for key in ("image", "audio"):
                if isinstance(turn.get(key), str) and turn[key]:
                    turn[key] = str((path.parent / turn[key]).resolve())
        out.append(d)
    return out


def play(assistant: Assistant, dialogue: dict, top_k: int = 50) -> dict:
    """One dialogue, turn by turn, in a fresh session: what was on screen after each turn (best first),
    the reply and the time the turn took. A turn the assistant cannot take gets an "error"."""
    session = Session()
    turns = []
    for turn in dialogue["turns"]:
        start = time.perf_counter()
        line: dict[str, Any] = {}
        try:
            reply = assistant.message(session, turn.get("text") or "", photo=_read(turn.get("image")),
                                      audio=turn.get("audio") or None)
            session = reply.session
            line.update(results=session.ranked_ids()[:top_k], reply=reply.text)
        except (InputError, IndexUnavailable) as e:
            line.update(results=[], reply="", error=str(e))
        line["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
        turns.append(line)
    return {"did": dialogue["did"], "turns": turns}


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InputError(f"photo not found: {Path(path).name}") from None


# ---------------------------------------------------------------------------------------------------
# scoring: the definitions of ../shared/tools/score_dialogues.py
# ---------------------------------------------------------------------------------------------------
def _violations(p: Product, must: dict, excluded: set[str], same_type: str | None) -> list[str]:
    bad = []
    price = p.effective_price
    if "max_price" in must and (price is None or price > must["max_price"]):
        bad.append("max_price")
    if "min_price" in must and (price is None or price < must["min_price"]):
        bad.append("min_price")
    bad += [f for f in LIST_FIELDS if f in must and (getattr(p, f) or None) not in must[f]]
    if "not_brand" in must and (p.brand or None) in must["not_brand"]:
        bad.append("not_brand")
    if "not_ids_from_turn" in must and p.id in excluded:
        bad.append("not_ids_from_turn")
    if "same_type_as_result" in must and (same_type is None or (p.article_type or None) != same_type):
        bad.append("same_type_as_result")
    return bad


def _as_list(x: Any) -> list:
    return x if isinstance(x, list) else [x]


def _top_ids(turn: dict | None) -> list[str]:
    return list(dict.fromkeys(str(x) for x in (turn or {}).get("results") or []))


def _median_price(ids: list[str], products: dict[str, Product]) -> float | None:
    prices = [products[i].effective_price for i in ids[:TOP] if i in products and products[i].effective_price is not None]
    return statistics.median(prices) if prices else None


def score_turns(dialogue: dict, record: dict | None, products: dict[str, Product]) -> list[dict]:
    """One row per turn: p@10, success, empty, latency, error, intents, language and input kind."""
    results = (record or {}).get("turns") or []
    shown = [_top_ids(results[i]) if i < len(results) else [] for i in range(len(dialogue["turns"]))]
    rows = []
    for i, (turn, expect) in enumerate(zip(dialogue["turns"], dialogue["expect"], strict=False)):
        must = expect.get("must", {})
        unknown = set(must) - KNOWN
        if unknown:
            raise InputError(f"{dialogue['did']} turn {i}: unknown constraint(s) {sorted(unknown)}")
        excluded: set[str] = set()
        for k in _as_list(must.get("not_ids_from_turn", [])):
            excluded |= set(shown[k][:TOP]) if k < len(shown) else set()
        same_type = None
        if "same_type_as_result" in must:
            k, rank = must["same_type_as_result"]
            ids = shown[k] if k < len(shown) else []
            if 1 <= rank <= len(ids) and ids[rank - 1] in products:
                same_type = products[ids[rank - 1]].article_type or None
        n_match = sum(1 for p in products.values() if not _violations(p, must, excluded, same_type))
        top = shown[i][:TOP]
        hits = sum(1 for x in top if x in products and not _violations(products[x], must, excluded, same_type))
        p10 = min(1.0, hits / min(TOP, n_match)) if n_match else 0.0
        if "cheaper_than_turn" in must:
            now, then = _median_price(top, products), _median_price(shown[must["cheaper_than_turn"]], products)
            if now is None or then is None or not now < then:
                p10 = 0.0
        empty = not top and n_match >= TOP
        result = results[i] if i < len(results) else None
        rows.append({"did": dialogue["did"], "turn": i, "lang": dialogue.get("lang", "en"),
                     "intents": _as_list(expect.get("intents", expect.get("intent", []))),
                     "p@10": p10, "success": p10 >= SUCCESS_P and not empty, "empty": empty,
                     "latency_ms": (result or {}).get("latency_ms"),
                     "error": (result or {}).get("error") if result else "missing",
                     "modality": "voice" if "audio" in turn else "photo" if "image" in turn else "text"})
    return rows


def _summary(rows: list[dict]) -> dict[str, float]:
    lat = [r["latency_ms"] for r in rows if isinstance(r["latency_ms"], (int, float))]
    n = len(rows)
    nan = float("nan")
    return {"turns": n, "turn_success": sum(r["success"] for r in rows) / n if n else nan,
            "p@10": sum(r["p@10"] for r in rows) / n if n else nan, "empty": sum(r["empty"] for r in rows) / n if n else nan,
            "errors": sum(1 for r in rows if r["error"]) / n if n else nan,
            "lat_p50": percentile(lat, 0.5), "lat_p95": percentile(lat, 0.95)}


def _dialogue_success(rows: list[dict]) -> tuple[float, int]:
    by: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by[r["did"]].append(r["success"])
    return (sum(all(v) for v in by.values()) / len(by) if by else float("nan")), len(by)


def score(dialogues: list[dict], records: Iterable[dict], products: dict[str, Product]) -> dict[str, Any]:
    """Overall, per intent, per language and per input kind (text / photo / voice), as the judging script."""
    by_did = {r.get("did"): r for r in records}
    rows = [row for d in dialogues for row in score_turns(d, by_did.get(d["did"]), products)]
    overall: dict[str, Any] = _summary(rows)
    overall["dialogue_success"], overall["dialogues"] = _dialogue_success(rows)
    overall["missing_dialogues"] = sum(1 for d in dialogues if d["did"] not in by_did)
    intents = {k: _summary([r for r in rows if k in r["intents"]]) for k in sorted({i for r in rows for i in r["intents"]})}
    languages = {}
    for lang in sorted({r["lang"] for r in rows}):
        sub = [r for r in rows if r["lang"] == lang]
        languages[lang] = _summary(sub)
        languages[lang]["dialogue_success"], languages[lang]["dialogues"] = _dialogue_success(sub)
    modalities = {m: _summary([r for r in rows if r["modality"] == m])
                  for m in ("text", "photo", "voice") if any(r["modality"] == m for r in rows)}
    return {"overall": overall, "intents": intents, "languages": languages, "modalities": modalities, "turns": rows}


def table(s: dict[str, Any]) -> str:
    """The judging script's printed report, line for line."""
    def f(v: Any, w: int = 8) -> str:
        if isinstance(v, float):
            return f"{v:>{w}.3f}" if v == v else f"{'-':>{w}}"
        return f"{v:>{w}}"

    o = s["overall"]
    lines = [f"dialogues {o['dialogues']}  turns {o['turns']}  missing dialogues {o['missing_dialogues']}",
             f"turn success {o['turn_success']:.3f}  dialogue success {o['dialogue_success']:.3f}  "
             f"mean p@10 {o['p@10']:.3f}  empty {o['empty']:.3f}  errors {o['errors']:.3f}  "
             f"latency p50 {o['lat_p50']:.1f} ms  p95 {o['lat_p95']:.1f} ms"]
    cols = ["turns", "turn_success", "p@10", "empty", "lat_p50", "lat_p95"]
    lines += ["", f"{'intent':16}" + "".join(f"{c:>13}" for c in cols)]
    lines += [f"{k:16}" + "".join(f(v[c], 13) for c in cols) for k, v in s["intents"].items()]
    lines += ["", f"{'language':16}" + "".join(f"{c:>13}" for c in ["dialogues", "dlg_success", *cols])]
    lines += [f"{k:16}" + "".join(f(v[c], 13) for c in ["dialogues", "dialogue_success", *cols])
              for k, v in s["languages"].items()]
    lines += ["", f"{'modality':16}" + "".join(f"{c:>13}" for c in cols)]
    lines += [f"{k:16}" + "".join(f(v[c], 13) for c in cols) for k, v in s["modalities"].items()]
    return "\n".join(lines)
