"""The shopping conversation: a shopper's messages (words, a photo, a voice clip) and clicks become searches
and replies over one `Session`. The app (`assistant.ui`) and the dialogue benchmark (`python -m assistant
chat`) both call `Assistant`; nothing here imports gradio. The shopper's photo is kept in memory, downscaled,
only while its request is refined."""

from __future__ import annotations

import html
import io
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import product_qa
from .intents import ENCODER, IntentModel, flags, load_model, use_encoder
from .session import (
    PAGE_SIZE,
    SORTS,
    Constraints,
    Intent,
    Session,
    cheaper_limit,
    content_words,
    interpret,
    ordinal,
    pricier_floor,
    resolve,
    rupees,
    search_call,
    sort_cards,
    summarize,
)

if TYPE_CHECKING:
    from .engine import Engine, SearchResult
    from .understanding import Understanding

KEPT_PHOTO_SIDE = 512  # the shopper's photo is kept (in memory) at most this big while refining
UNSURE = "_I'm not sure I heard you right — tap what you said if it's below._"


def shrink_photo(data: bytes, side: int = KEPT_PHOTO_SIDE) -> bytes:
    """A shopper's photo as a small JPEG (what is kept in memory while the request is refined)."""
    from .catalog import decode_image

    im = decode_image(data)
    im.thumbnail((side, side))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


REASON = re.compile(r"^(?:gender|article type|category|colour|base colour|usage|occasion|brand):\s*(.+)$", re.I)


def pretty_reason(reason: str) -> str:
    """"article type: Heels" → "Heels" (the card's checklist shows values; other reasons stay as they are)."""
    m = REASON.match(reason.strip())
    return m.group(1) if m else reason


# ---------------------------------------------------------------------------------------------------
# the conversation
# ---------------------------------------------------------------------------------------------------
@dataclass
class Reply:
    """The outcome of one turn: the new state, the assistant's words, and the cards on screen."""

    session: Session
    text: str
    user: str = ""  # the shopper's turn as shown in the chat ("" keeps what the UI already shows)
    cards: list[dict] = field(default_factory=list)
    heading: str = ""
    changed: bool = False  # cards replaced (False: keep the grid as it is)
    transcript: str = ""
    ok: bool = True
    alternatives: tuple[str, ...] = ()  # other readings of an unsure voice clip, offered as chips


RELAX_ORDER = ("usage", "brand", "colour", "exclude_colour", "exclude_brand", "price", "gender", "article_type")
HISTORY = 10  # earlier states kept for "go back"
CHEAPER_SHARE = 0.8  # "cheaper" with a budget set: at most this share of it
BUDGET_STEP = 0.3  # "I can spend a bit more" with no number: the budget moves by this share
KEY_NAMES = {"price": ("the price limit", "价格"), "gender": ("who it's for", "性别"), "article_type": ("the category", "品类"),
             "colour": ("the colour", "颜色"), "usage": ("the occasion", "场合"), "brand": ("the brand", "品牌"),
             "exclude_brand": ("the excluded brand", "排除的品牌"), "exclude_colour": ("the excluded colour", "排除的颜色")}
GROUP_ACTS = ("more", "cheaper", "pricier", "budget_up", "budget_down")  # acts that ask about the cards as a group
DROP_ACTS = {"drop_colour": ("colour",), "drop_brand": ("brand",), "drop_price": ("price",), "drop_usage": ("usage",),
             "drop_gender": ("gender",)}


class Assistant:
    """Turns a shopper's messages and clicks into searches and replies. `depth` ids are ranked per turn
    (the cards on screen first), for the dialogue benchmark."""

    def __init__(self, engine: Engine, page_size: int = PAGE_SIZE, depth: int = 0,
                 intent_model: IntentModel | None = None) -> None:
        self.engine = engine
        self.page_size = page_size
        self.depth = max(depth, page_size)
        self.intent_model = intent_model

    @staticmethod
    def show_user(text: str = "", photo: bytes | None = None, photo_path: str = "", voice: str | None = None) -> str:
        """The shopper's turn as the chat shows it (the app renders photos and transcripts; here, words)."""
        said = f"🎤 “{voice}”" if voice else ("🎤 voice message" if voice is not None else "")
        return " ".join(w for w in (said, text, "[photo]" if photo is not None or photo_path else "") if w) or "…"

    # -- what a message means ---------------------------------------------------------------------
    def act(self, text: str, u: Understanding | None) -> tuple[str, float]:
        """The intent model's act for a follow-up message, with its probability."""
        model = self.intent_model or load_model()
        encoder = self.engine.text_encoder if getattr(self.engine.text_encoder, "name", "") == ENCODER else \
            use_encoder(self.engine.settings.threads)
        probs = model.probabilities(encoder.encode_text([text]), flags(text, u)[None])[0]
        best = int(probs.argmax())
        return model.acts[best], float(probs[best])

    def _asks_for_others(self, session: Session, text: str) -> bool:
        """Whether a question about what is on screen asks for other products, not about one of them: it names no
        card ("#3", "the second one"; "it" with a product open) but a colour, brand, who it's for or a price ("do
        they come in black?", "do you have this in blue?"), or asks for cheaper, pricier or more of them ("these
        are pricey, anything for less?")."""
        if ordinal(text) is not None or (session.focus and product_qa.SINGULAR.search(text.lower())):
            return False
        u = self.engine.understand(text)
        if not Constraints.from_understanding(u).is_empty():
            return True
        return not product_qa.SINGULAR.search(text.lower()) and self.act(text, u)[0] in GROUP_ACTS

    def count(self, c: Constraints) -> int:
        """How many catalog products meet the constraints."""
        return int(c.filters().mask(self.engine.index.columns()).sum())

    def cheapest(self, c: Constraints, n: int) -> float | None:
        """The price of the n-th cheapest product meeting the constraints but their price cap (None: fewer do)."""
        columns = self.engine.index.columns()
        mask = replace(c, max_price=None).filters().mask(columns) & (columns.price >= 0)
        prices = np.sort(columns.price[mask])
        return float(prices[n - 1]) if n <= len(prices) else None

    def feasible(self, c: Constraints, keep: Sequence[str] = (), minimum: int = 1) -> tuple[Constraints, list[str]]:
        """The constraints, or when fewer than `minimum` products meet them all, the fewest dropped (least
        important first, never those in `keep`, the ones just asked for) so that enough do:
        (constraints, dropped keys)."""
        if self.count(c) >= minimum:
            return c, []
        keys = [k for k in RELAX_ORDER if k in c.active_keys() and k not in keep]
        for k in keys:
            if self.count(c.drop([k])) >= minimum:
                return c.drop([k]), [k]
        dropped: list[str] = []
        for k in [*keys, *(k for k in RELAX_ORDER if k in c.active_keys() and k not in keys)]:
            c, dropped = c.drop([k]), [*dropped, k]
            if self.count(c) >= minimum:
                break
        return c, dropped

    # -- helpers ------------------------------------------------------------------------------
    def _search(self, session: Session, exclude_ids: Sequence[str] = ()) -> SearchResult:
        """Once the chips are the constraints, every card shown meets all of them (extra are asked for, so
        that products dropped here still leave a full page). Sorted by price or discount, the page is the
        best of a wider pool of relevant products."""
        depth = self.depth if session.sort == "relevance" else max(self.depth, self.engine.settings.sort_pool)
        if not session.settled:
            return self.engine.search(**search_call(session, exclude_ids, depth).kwargs())
        call = search_call(session, exclude_ids, depth * 2)
        result = self.engine.search(**call.kwargs())
        kept = [h for h in result.hits if session.constraints.admits(h.product)][:depth]
        return replace(result, hits=kept)

    def _show(self, session: Session, result: SearchResult, append_seen: bool = False) -> Session:
        s = session.copy()
        ranked = sort_cards([summarize(h.id, h.product, h.score) for h in result.hits], s.sort)
        reasons = {h.id: (h.product, h.reasons) for h in result.hits}
        s.shown = [{**p, "reasons": why(s, *reasons[p["id"]])} for p in ranked[: self.page_size]]
        s.ranked = [p["id"] for p in ranked]
        s.seen_ids = [*s.seen_ids, *(p["id"] for p in s.shown)] if append_seen else [p["id"] for p in s.shown]
        return s

    def _reply(self, s: Session, text: str, result: SearchResult | None, user: str = "", transcript: str = "") -> Reply:
        notes = [n for n in (result.notes if result else []) if n and not n.startswith("Nothing matches all of")]
        if notes:
            text += "\n\n" + " ".join(f"_{n}_" for n in notes)
        return Reply(s, text, user=user, cards=list(s.shown), heading=heading(s), changed=True, transcript=transcript)

    @staticmethod
    def _remember(before: Session, after: Session) -> Session:
        """`after`, with `before` on its history (for "go back")."""
        if before.active and before.shown:
            after.history = [*before.history[-(HISTORY - 1):], replace(before.copy(), history=[])]
        return after

    # -- turns --------------------------------------------------------------------------------
    def message(self, session: Session, text: str = "", photo: bytes | None = None, photo_path: str = "",
                audio: bytes | str | Path | None = None) -> Reply:
        """A chat message: words and/or a photo (bytes, or a catalog photo path) and/or a voice clip."""
        text = (text or "").strip()
        transcript: str | None = None
        language = heard_note = ""
        alternatives: tuple[str, ...] = ()
        if audio is not None:
            tr = self.engine.transcribe(audio)
            transcript = tr.text.strip()
            if not transcript:
                note = tr.note or "Sorry, I didn't catch that. Could you say it again?"
                return Reply(session, note, user=self.show_user(text, photo, photo_path, ""), ok=False)
            language = "zh" if tr.language == "zh" else ""
            text = f"{text} {transcript}".strip()
            heard_note = tr.note  # e.g. only the first 30 seconds were used
            alternatives = tr.alternatives
        user = self.show_user(text if transcript is None else text.removesuffix(transcript).strip(), photo,
                              photo_path, transcript)
        if not text and photo is None and not photo_path:
            return Reply(session, "Tell me what you're looking for, add a photo, or record your voice.", user=user, ok=False)
        if text and photo is None and not photo_path and (session.shown or session.focus) and product_qa.about(text) \
                and not self._asks_for_others(session, text):
            return self.question(session, text, user)
        u = self.engine.understand(text) if text else None
        language = language or (u.language if u else session.language)
        new_photo = photo is not None or bool(photo_path)
        act = self.act(text, u)[0] if text and session.active and not new_photo else "new"
        intent = interpret(text, session, u, act, self.engine.understand, new_photo=new_photo)
        if intent.kind == "new":
            reply = self._new(text, photo, photo_path, language, user, transcript or "", sort=session.sort,
                              who=said_gender(session) if new_photo else ())
            reply = replace(reply, session=self._remember(session, reply.session))
        else:
            s = session.copy()
            s.language = language
            reply = self._follow_up(s, intent, text, user, transcript or "")
        reply = replace(reply, text=f"{reply.text}\n\n_{heard_note}_") if heard_note else reply
        return replace(reply, text=f"{reply.text}\n\n{UNSURE}", alternatives=alternatives) if alternatives else reply

    def _new(self, text: str, photo: bytes | None, photo_path: str, language: str, user: str, transcript: str,
             sort: str = "relevance", who: tuple[str, ...] = ()) -> Reply:
        """A new request (the shopper's sort order holds: it is how they like results shown). `who`: who the
        shopper said they are shopping for; a photo's guess of it gives way to that, unless the photo's words
        say otherwise or the catalog has too few of the photo's kind of product for them."""
        kept = shrink_photo(photo) if photo is not None else None
        s = Session(text=text, photo=kept, photo_path=photo_path if kept is None else "", language=language, sort=sort)
        result = self._search(s)
        u = result.understanding
        asked = Constraints.from_understanding(u)
        s.photo_description = result.photo_description()
        s.photo_facets = dict(result.photo_facets)
        if s.photo_facets:  # what the photo shows, unless the words say otherwise
            asked = photo_constraints(s.photo_facets, negated_colour=bool(u and re.search(
                r"colou?r", u.negative_text))).merge(asked)
            kind = Constraints(gender=who, article_type=asked.article_type)
            if who and not Constraints.from_understanding(u).gender and self.count(kind) >= self.page_size:
                asked = replace(asked, gender=who)
        s.subject = " ".join(content_words(u, self.engine.understand)) if u else ""
        s.settled = True
        # what a photo shows is a guess: enough products for a page, else its least sure parts go (colour first)
        words = Constraints.from_understanding(u).active_keys() if s.photo_facets else ("article_type",)
        c, dropped = self.feasible(asked, keep=words, minimum=self.page_size if s.photo_facets else 1)
        s.constraints = c
        kept_hits = [h for h in result.hits if c.admits(h.product)]
        if len(kept_hits) < min(self.page_size, self.count(c)):
            result = self._search(s)  # the words alone did not rank enough of what is asked first
        else:
            result = replace(result, hits=kept_hits[: self.depth])
        claimed = result.same_product
        s = self._show(s, result)
        text_out = say_found(s, len(s.shown), text)
        if s.shown and s.shown[0]["id"] in claimed:  # the very product in the photo leads the page: say which
            title = html.escape(s.shown[0].get("title", ""), quote=False)
            text_out += (f"第一件就是你照片中的商品：{title}。" if s.language == "zh" else
                         f" The first one is the very product in your photo: {title}.")
        said = [k for k in dropped if k in Constraints.from_understanding(u).active_keys()]  # not a photo's guess
        return self._reply(s, relaxed_note(asked, said, s.language) + text_out, result, user, transcript)

    def _follow_up(self, s: Session, intent: Intent, text: str, user: str, transcript: str) -> Reply:
        zh = s.language == "zh"
        c = s.constraints
        kind = intent.kind
        asked = intent.constraints
        if kind == "more":
            result = self._search(s, exclude_ids=s.seen_ids)
            if not result.hits:
                return Reply(s, "没有更多了。" if zh else "That's everything I have for this request.", user=user, ok=False)
            before = s
            s = self._show(s, result, append_seen=True)
            s.page += 1
            n = len(s.shown)
            more = f"再给你 {n} 件：{c.describe('zh', s.noun())}。" if zh else \
                f"Here are {n} more {c.describe('en', s.noun().lower())}."
            return self._reply(self._remember(before, s), more, result, user, transcript)
        if kind == "similar":
            target = resolve(s, intent.ordinal if intent.ordinal is not None else 0)
            if target is None:
                return Reply(s, "哪一件？比如“像第二个的”。" if zh else "Which one? Say “more like the second one”.",
                             user=user, ok=False)
            return self._similar(s, target, user, transcript)
        if kind == "exclude":
            target = resolve(s, intent.ordinal) if intent.ordinal is not None else None
            if target is None:
                return Reply(s, "哪一件？比如“不要第二个”。" if zh else "Which one? Say “not the second one”.",
                             user=user, ok=False)
            s.dislikes = [*(i for i in s.dislikes if i != target["id"]), target["id"]]
            s.likes = [i for i in s.likes if i != target["id"]]
            done = f"好的，去掉了“{target['title']}”。" if zh else f"OK, “{target['title']}” is gone."
            return self._refined(s, c, done, user, transcript)
        if kind == "back":
            return self._back(s, asked, user, transcript)
        if kind == "reset":
            return Reply(Session(language=s.language, sort=s.sort), "好的，重新开始。想找什么？" if zh else
                         "OK, starting over. What are you looking for?", user=user, changed=True)
        if kind == "not_brand":
            target = resolve(s, intent.ordinal) if intent.ordinal is not None else None
            brands = asked.exclude_brand or ((target["brand"],) if target and target.get("brand") else c.brand) or \
                tuple(dict.fromkeys(p["brand"] for p in s.shown[:1] if p.get("brand")))
            if not brands:
                return Reply(s, "I don't know the brand of that one.", user=user, ok=False)
            new = replace(c.merge(replace(asked, exclude_brand=tuple(brands))), brand=())
            names = " / ".join(brands)
            return self._refined(s, new, f"好的，不要 {names} 了。" if zh else f"OK, no more {names}.", user, transcript,
                                 asked=("exclude_brand",))
        if kind in DROP_ACTS:
            keys = DROP_ACTS[kind]
            return self._refined(s, c.drop(keys).merge(asked), "", user, transcript, asked=keys)
        if kind in ("cheaper", "pricier", "budget_up", "budget_down", "cap", "floor"):
            return self._price(s, intent, user, transcript)
        if kind == "switch":
            return self._switch(s, intent, text, user, transcript)
        if asked.is_empty() and not intent.words:
            return Reply(s, "要改什么？比如颜色、价格或品牌。" if zh else
                         "What should change? Say a colour, a budget, a brand or who it's for.", user=user, ok=False)
        if intent.words:  # "with pockets": the request's own words grow
            s.subject = " ".join(dict.fromkeys([*s.subject.split(), *intent.words]))
        if asked.article_type and s.photo is None and not s.photo_path:
            s.text = text
        return self._refined(s, c.merge(asked), "", user, transcript, asked=asked.active_keys())

    def _price(self, s: Session, intent: Intent, user: str, transcript: str) -> Reply:
        """Cheaper / pricier (than what is on screen), a budget cap or floor, the budget up or down."""
        zh = s.language == "zh"
        c = s.constraints.merge(intent.constraints.without_price())
        prices = s.prices()
        kind, n = intent.kind, intent.amount
        lo, hi = intent.constraints.min_price, intent.constraints.max_price
        if kind == "cap" and lo is not None and hi is None:  # "nothing above 400": a cap, whatever the words
            lo, hi = None, lo
        if kind == "floor" and hi is not None and lo is None:
            lo, hi = hi, None
        if kind in ("budget_up", "budget_down"):
            cap = c.max_price
            if n is not None and (not intent.relative or cap is None):
                hi = n
            elif cap is not None:
                step = n if n is not None else cap * BUDGET_STEP
                hi = cap + step if kind == "budget_up" else max(cap - step, 0.0)
            else:
                kind = "pricier" if kind == "budget_up" else "cheaper"
        if kind in ("cheaper", "pricier") and not prices:
            return Reply(s, "I don't know the prices of these, sorry.", user=user, ok=False)
        if kind == "cheaper":
            hi = cheaper_limit(prices)
            ceiling = max(prices) - 1.0  # below the dearest on screen, and at most a share of the budget
            if c.max_price is not None and hi is not None:
                hi, ceiling = min(hi, c.max_price * CHEAPER_SHARE), min(ceiling, c.max_price * CHEAPER_SHARE)
            if hi is not None and self.count(replace(c, max_price=hi)) < self.page_size:
                page = self.cheapest(c, self.page_size)  # too few below the typical price: the cheapest page
                hi = max(hi, min(page, ceiling)) if page is not None else hi
            lo = c.min_price if c.min_price is not None and hi is not None and c.min_price < hi else None
            new = replace(c, min_price=lo, max_price=hi)
        elif kind == "pricier":
            lo = pricier_floor(prices)
            new = replace(c, min_price=lo, max_price=c.max_price if c.max_price and lo and c.max_price > lo else None)
        else:
            if hi is None and lo is None and n is not None:
                hi, lo = (n, None) if kind != "floor" else (None, n)
            new = c.merge(Constraints(min_price=lo, max_price=hi))
        before = statistics.median(prices) if prices else None
        reply = self._refined(s, new, "", user, transcript, asked=("price",))
        after = reply.session.prices()
        if reply.ok and kind in ("cheaper", "pricier") and before and after:
            s2 = reply.session
            now = statistics.median(after)
            change = round(abs(before - now) / before * 100)
            what = s2.constraints.describe(s2.language, s2.noun() if zh else s2.noun().lower())
            if kind == "cheaper" and now >= before:
                said = (f"这些已经是最便宜的了（一般 {rupees(now)}）：{what}。" if zh else
                        f"These are the cheapest there are (typically {rupees(now)}): {what}.")
            elif zh:
                head, way = ("更便宜的", "低") if kind == "cheaper" else ("更高档的", "高")
                said = f"{head}：一般 {rupees(now)}，之前 {rupees(before)}（{way} {change}%）：{what}。"
            else:
                said = (f"Here are {'cheaper' if kind == 'cheaper' else 'pricier'} ones — typically {rupees(now)}, "
                        f"{'down' if kind == 'cheaper' else 'up'} from {rupees(before)} ({change}% "
                        f"{'less' if kind == 'cheaper' else 'more'}): {what}.")
            note = relaxed_note(new, self.feasible(new, keep=("price",))[1], s.language)
            reply = replace(reply, text=note + said + _notes(reply.text))
        return reply

    def _switch(self, s: Session, intent: Intent, text: str, user: str, transcript: str) -> Reply:
        """A new subject ("now show me sunglasses"): what no longer applies (colour, budget, brand, occasion, the
        photo, likes) goes; who it is for stays when the catalog has the new kind of product for them."""
        fresh = Session(text=text, language=s.language, settled=True, history=s.history, sort=s.sort)
        c = intent.constraints
        if not c.gender and s.constraints.gender:
            carried = replace(c, gender=s.constraints.gender)
            c = carried if self.count(carried) >= self.page_size else c
        fresh.subject = " ".join(intent.words)
        return self._refined(fresh, c, "", user, transcript, asked=intent.constraints.active_keys(), previous=s)

    def _back(self, s: Session, asked: Constraints, user: str, transcript: str) -> Reply:
        """Back to the state before the last change, or to the latest one with what the message names
        ("back to the blue ones")."""
        zh = s.language == "zh"
        wanted = asked.without_price()
        match = [h for h in s.history if not wanted.is_empty() and all(
            set(getattr(wanted, k)) <= set(getattr(h.constraints, k)) for k in ("gender", "article_type", "colour",
                                                                                 "usage", "brand"))]
        earlier = (match or s.history)[-1:] if s.history else []
        if not earlier:
            return Reply(s, "没有更早的结果了。" if zh else "There is nothing earlier to go back to.", user=user, ok=False)
        back = earlier[0].copy()
        back.history = s.history[: s.history.index(earlier[0])]
        back.language = s.language
        what = back.constraints.describe(back.language, back.noun())
        text = f"回到之前的结果：{what}。" if zh else f"Back to the earlier results: {what}."
        return Reply(back, text, user=user, cards=list(back.shown), heading=heading(back), changed=True,
                     transcript=transcript)

    def _refined(self, s: Session, constraints: Constraints, text: str, user: str = "", transcript: str = "",
                 asked: Sequence[str] = (), previous: Session | None = None) -> Reply:
        """Search again under changed constraints. When no product meets them all, the least important of
        the others are relaxed (and the reply says which); the relaxed state is what the next turn refines."""
        candidate = s.copy()
        candidate.constraints, dropped = self.feasible(constraints, keep=asked)
        candidate.settled = True
        result = self._search(candidate)
        if not result.hits:
            what = constraints.describe(s.language, s.noun())
            msg = (f"没有找到符合条件的商品（{what}），保留了之前的结果。" if s.language == "zh" else
                   f"I couldn't find anything for {what or 'that'} — your previous results are still shown. "
                   "Try removing a filter.")
            return Reply(previous or s, msg, user=user, transcript=transcript, ok=False)
        candidate = self._remember(previous or s, self._show(candidate, result))
        candidate.page = 0
        said = say_found(candidate, len(candidate.shown), "", refined=True)
        text = " ".join(w for w in (relaxed_note(constraints, dropped, s.language), text, said) if w)
        return self._reply(candidate, text, result, user, transcript)

    def _similar(self, s: Session, target: dict, user: str = "", transcript: str = "") -> Reply:
        """More like a card: its photo is the request, its kind of product a constraint."""
        n = next((i + 1 for i, p in enumerate(s.shown) if p["id"] == target["id"]), 0)
        candidate = s.copy()
        candidate.photo, candidate.photo_path, candidate.subject = None, target["image"], ""
        if target.get("article_type"):
            candidate.constraints = replace(candidate.constraints, article_type=(target["article_type"],))
        candidate.constraints, _ = self.feasible(candidate.constraints, keep=("article_type",))
        result = self._search(candidate, exclude_ids=(target["id"],))
        if not result.hits:
            return Reply(s, "I couldn't find anything similar with these filters.", user=user, ok=False)
        candidate = self._remember(s, self._show(candidate, result))
        title = target["title"]
        what = candidate.constraints.describe(s.language, candidate.noun())
        text = (f"这些和第 {n} 件（{title}）相似：{what}。" if s.language == "zh" else
                f"Here are more like #{n}, “{title}”: {what}.")
        return self._reply(candidate, text, result, user, transcript)

    def _same_style(self, s: Session, target: dict) -> Reply:
        """More in a card's style: its own words (pattern, fit, occasion, kind, who it is for), not its photo."""
        details = self.engine.details(target["id"]) or target
        attrs = details.get("attributes") or {}
        style = [attrs.get(k, "") for k in ("Pattern", "Fit", "Sleeve Length", "Neck", "Occasion")]
        candidate = s.copy()
        candidate.photo, candidate.photo_path, candidate.photo_facets, candidate.photo_description = None, "", {}, ""
        candidate.subject = " ".join(w for w in [*style, target.get("usage", "")] if w).lower()
        constraints = Constraints(gender=(target["gender"],) if target.get("gender") else (),
                                  article_type=(target["article_type"],) if target.get("article_type") else ())
        candidate.constraints, _ = self.feasible(constraints, keep=("article_type",))
        candidate.settled = True
        result = self._search(candidate, exclude_ids=(target["id"],))
        if not result.hits:
            return Reply(s, "I couldn't find anything in that style.", ok=False)
        candidate = self._remember(s, self._show(candidate, result))
        what = candidate.constraints.describe(s.language, candidate.noun())
        return self._reply(candidate, f"More in the style of “{target['title']}”: {what}.", result)

    def question(self, session: Session, text: str, user: str = "") -> Reply:
        """A question about one product ("is #3 machine washable?", "what is it made of?", "第三个可以机洗吗？"),
        answered in its language from that product's own description, attributes and sizes. "It" is the product
        whose page is open (or the one last asked about); the cards on screen stay as they are."""
        n = ordinal(text)
        target = resolve(session, n) if n is not None else None
        pid = target["id"] if target else session.focus
        details = self.engine.details(pid) if pid else None
        if details is None:
            which = ("哪一件？请说它的编号，比如“第二个可以机洗吗？”，或者打开它再问。" if product_qa.language(text) == "zh" else
                     "Which one? Say its number, e.g. “is #2 machine washable?”, or open it and ask.")
            return Reply(session, which, user=user, ok=False)
        s = session.copy()
        s.focus = pid
        said = product_qa.answer(text, details)
        shown = next((i + 1 for i, p in enumerate(s.shown) if p["id"] == pid), 0)
        name = f"#{shown} “{details.get('title', '')}”" if shown else f"“{details.get('title', '')}”"
        return Reply(s, f"{name}: {said.text}", user=user)

    def set_sort(self, session: Session, key: str) -> Reply:
        """Sort the results: relevance, price low→high or high→low, biggest discount (kept for the next turns)."""
        if key not in SORTS:
            return Reply(session, "Unknown sort order.", ok=False)
        s = session.copy()
        s.sort = key
        if not s.active or not s.shown:
            return Reply(s, "", ok=True)
        result = self._search(s)
        s = self._show(s, result)
        return self._reply(s, f"Sorted by {SORTS[key][0].lower()}.", result, user="")

    # -- clicks -------------------------------------------------------------------------------
    def product(self, session: Session, product_id: str) -> dict | None:
        """A product on screen, or any product of the catalog (from a shortlist or a comparison), as a card."""
        shown = next((p for p in session.shown if p["id"] == product_id), None)
        if shown is not None:
            return shown
        details = self.engine.details(product_id)
        return summarize(product_id, details) if details is not None else None

    def card_action(self, session: Session, action: str, product_id: str) -> Reply:
        """👍 / 👎 / "Similar" (by look: its photo) / "Style" (by style: its words) on a card or a product page;
        "open": the shopper is looking at this product (what "it" means in a question)."""
        target = self.product(session, product_id)
        if target is None:
            return Reply(session, "That product is no longer in the catalog.", ok=False)
        if action == "open":
            s = session.copy()
            s.focus = product_id
            return Reply(s, "", ok=True)
        n = next((i + 1 for i, p in enumerate(session.shown) if p["id"] == product_id), 0)
        label = f"#{n}" if n else f"“{target['title']}”"
        if action == "similar":
            return replace(self._similar(session.copy(), target), user=f"Similar to {label}")
        if action == "style":
            return replace(self._same_style(session.copy(), target), user=f"Same style as {label}")
        s = session.copy()
        zh = s.language == "zh"
        if action == "like":
            s.likes = [*(i for i in s.likes if i != product_id), product_id]
            s.dislikes = [i for i in s.dislikes if i != product_id]
            text = (f"👍 收到，会多推荐类似“{target['title']}”的商品。" if zh else
                    f"👍 Noted — showing more like “{target['title']}”.")
        elif action == "dislike":
            s.dislikes = [*(i for i in s.dislikes if i != product_id), product_id]
            s.likes = [i for i in s.likes if i != product_id]
            text = f"👎 好的，少推荐类似“{target['title']}”的。" if zh else f"👎 Got it — fewer like “{target['title']}”."
        else:
            return Reply(session, "Unknown action.", ok=False)
        user = f"{'👍' if action == 'like' else '👎'} {label} {target['title']}"
        result = self._search(s)
        if not result.hits:
            return Reply(s, text, user=user, ok=True)
        s = self._show(s, result)
        return self._reply(s, text, result, user=user)

    def set_chips(self, session: Session, keys: Sequence[str]) -> Reply:
        """Unticked chips remove their constraints."""
        if not session.active:
            return Reply(session, "", ok=False)
        new = session.constraints.keep(keys)
        removed = ", ".join(label for label, key in session.constraints.chips() if key not in keys)
        text = "" if not removed else f"已移除：{removed}。" if session.language == "zh" else f"Removed {removed}."
        return self._refined(session.copy(), new, text, user=f"✕ {removed}" if removed else "")

    def set_filters(self, session: Session, min_price: float | None, max_price: float | None,
                    gender: Sequence[str], article_type: Sequence[str], colour: Sequence[str]) -> Reply:
        """The filter panel's values replace price, gender, category and colour."""
        if not session.active:
            return Reply(session, "Tell me what you're looking for first, then narrow it down here.", ok=False)
        lo = float(min_price) if min_price not in (None, "") and float(min_price) > 0 else None
        hi = float(max_price) if max_price not in (None, "") and float(max_price) > 0 else None
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        genders = tuple(gender)
        if genders and "Unisex" not in genders and {"Men", "Women"} & set(genders):
            genders = (*genders, "Unisex")
        new = replace(session.constraints, min_price=lo, max_price=hi, gender=genders,
                      article_type=tuple(article_type), colour=tuple(colour))
        shown = ", ".join(label for label, _ in new.chips()) or "no filters"
        return self._refined(session.copy(), new, "", user=f"Filters: {shown}")

    def reset(self) -> Session:
        return Session()


GENERIC_REASONS = ("close to your words",)


def why(s: Session, product: dict, reasons: Sequence[str]) -> list[str]:
    """Why a card matched: the engine's reasons, plus (once the chips are the constraints) the chips it meets."""
    if not s.settled or s.constraints.is_empty():
        return list(reasons)
    out = s.constraints.reasons(product)
    seen = {pretty_reason(r).lower() for r in out}
    out += [r for r in reasons if r not in GENERIC_REASONS and pretty_reason(r).lower() not in seen]
    return out


def heading(s: Session) -> str:
    what = s.constraints.describe("en", s.noun().lower()) if not s.constraints.is_empty() else ""
    base = f"{len(s.shown)} results"
    if s.photo_description:
        base += f" · photo {s.photo_description}"
    return base + (f" · {what}" if what else "")


def say_found(s: Session, n: int, text: str, refined: bool = False) -> str:
    """The assistant's sentence for a (new or refined) search, in the shopper's language."""
    desc = s.constraints.describe(s.language, s.noun().lower() if s.language != "zh" else s.noun())
    zh = s.language == "zh"
    if n == 0:
        return ("没有找到相关商品，试试换个说法或放宽价格。" if zh else
                "I couldn't find anything for that. Try other words or a wider price range.")
    if s.photo_description and not refined:
        desc = s.constraints.describe(s.language)
        seen = f"照片识别：{s.photo_description}。" if zh else f"Your photo {s.photo_description}."
        more = (f"为你找到 {n} 件相似商品" + (f"（{desc}）" if desc else "") + "。") if zh else \
            (f" Here are {n} similar products" + (f" — {desc}" if desc else "") + ".")
        return seen + more
    if zh:
        return f"为你找到 {n} 件商品" + (f"：{desc}" if desc else "") + "。"
    if refined:
        return f"Updated — here are {n} {desc or 'results'}."
    return f"Here are {n} {desc}." if desc else f"Here are {n} picks for “{html.escape(text, quote=False)}”."


def _notes(text: str) -> str:
    """The engine's notes at the end of a reply (after a blank line), if any."""
    _, sep, notes = text.partition("\n\n")
    return sep + notes if sep else ""


def said_gender(s: Session) -> tuple[str, ...]:
    """Who the current request is for when the shopper said so (not what a photo of theirs looked like)."""
    gender = s.constraints.gender
    return gender if s.active and gender != photo_constraints(s.photo_facets).gender else ()


def photo_constraints(facets: dict[str, str], negated_colour: bool = False) -> Constraints:
    """What a photo shows as constraints: its kind of product, who it is for and its colour ("not this
    colour": every colour but its own)."""
    gender = facets.get("gender", "")
    genders = (gender, "Unisex") if gender in ("Men", "Women") else ((gender,) if gender else ())
    colour = facets.get("base_colour", "")
    return Constraints(gender=genders, article_type=(facets["article_type"],) if facets.get("article_type") else (),
                       colour=(colour,) if colour and not negated_colour else (),
                       exclude_colour=(colour,) if colour and negated_colour else ())


def relaxed_note(asked: Constraints, dropped: Sequence[str], language: str) -> str:
    """What was relaxed because nothing meets everything asked ("" when nothing was)."""
    if not dropped:
        return ""
    zh = language == "zh"
    names = ("、" if zh else " and ").join(KEY_NAMES[k][1 if zh else 0] for k in dropped)
    if zh:
        return f"没有完全符合（{asked.describe('zh')}）的商品，已放宽{names}。"
    return f"Nothing matches {asked.describe('en')} exactly, so I left out {names}. "
