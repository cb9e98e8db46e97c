"""Per-browser-session conversation state and the follow-up logic of the shopping chat.

A `Session` lives in a `gr.State` for one browser tab and is never persisted: the shopper's photo is
kept in memory (downscaled) only while that request is being refined, and dropped on a new request or
a reset. `interpret` decides whether a message refines the last request ("cheaper", "in blue", "for
women", "more like the second one", "not this brand", "show more") or starts a new one, and
`search_call` turns the state into the arguments of `Engine.search`. Nothing here imports gradio.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .index import Filters

if TYPE_CHECKING:
    from .understanding import Understanding

PAGE_SIZE = 12

# ---------------------------------------------------------------------------------------------------
# constraints: what the shopper asked for, shown as chips and applied as hard filters
# ---------------------------------------------------------------------------------------------------
CHIP_ORDER = ("price", "gender", "article_type", "colour", "usage", "brand", "exclude_brand", "exclude_colour")
FACET_FIELD = {"gender": "gender", "article_type": "article_type", "base_colour": "colour", "usage": "usage",
               "brand": "brand"}


@lru_cache(maxsize=1)
def _zh_names() -> dict[str, str]:
    """English catalog words → Chinese (the first Chinese term the request lexicon maps to each)."""
    path = Path(__file__).parent / "resources" / "lexicon_zh.json"
    try:
        terms = json.loads(path.read_text(encoding="utf-8")).get("terms", {})
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for zh, en in terms.items():
        out.setdefault(str(en).lower(), zh)
    return out


def zh_name(value: str) -> str:
    """A facet value in Chinese where the lexicon knows it ("Handbags" → "手提包"), else as it is."""
    return _zh_names().get(value.lower(), value)


def rupees(value: float | None) -> str:
    """₹ with Indian digit grouping: 1299 → ₹1,299; 125000 → ₹1,25,000."""
    if value is None or value < 0:
        return "—"
    whole = round(value)
    digits = str(abs(whole))
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join([*groups, tail])
    return f"₹{digits}"


@dataclass(frozen=True)
class Constraints:
    """Hard constraints of the current request; each field is one removable chip."""

    min_price: float | None = None
    max_price: float | None = None
    gender: tuple[str, ...] = ()
    article_type: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()
    usage: tuple[str, ...] = ()
    brand: tuple[str, ...] = ()
    exclude_brand: tuple[str, ...] = ()
    exclude_colour: tuple[str, ...] = ()

    @classmethod
    def from_understanding(cls, u: Understanding | None) -> Constraints:
        if u is None:
            return cls()
        values: dict[str, Any] = {FACET_FIELD[f]: tuple(v) for f, v in u.facets.items() if f in FACET_FIELD}
        return cls(min_price=u.min_price, max_price=u.max_price,
                   exclude_brand=tuple(u.excluded.get("brand", ())),
                   exclude_colour=tuple(u.excluded.get("base_colour", ())), **values)

    def is_empty(self) -> bool:
        return self == Constraints()

    def without_price(self) -> Constraints:
        return replace(self, min_price=None, max_price=None)

    def active_keys(self) -> list[str]:
        """The chip keys this sets ("price", "colour" …)."""
        return [key for _, key in self.chips()]

    def drop(self, keys: Iterable[str]) -> Constraints:
        """Without the given chips ("colour" also lifts a colour exclusion, "brand" a brand exclusion)."""
        keys = set(keys)
        keys |= {f"exclude_{k}" for k in ("brand", "colour") if k in keys}
        return self.keep(k for k in CHIP_ORDER if k not in keys)

    def merge(self, newer: Constraints) -> Constraints:
        """`newer` wins field by field (a new colour replaces the old one); exclusions add up."""
        out = self
        for f in ("gender", "article_type", "colour", "usage", "brand"):
            if getattr(newer, f):
                out = replace(out, **{f: getattr(newer, f)})
        if newer.max_price is not None:
            out = replace(out, max_price=newer.max_price)
            if out.min_price is not None and newer.min_price is None and out.min_price > newer.max_price:
                out = replace(out, min_price=None)
        if newer.min_price is not None:
            out = replace(out, min_price=newer.min_price)
            if out.max_price is not None and newer.max_price is None and out.max_price < newer.min_price:
                out = replace(out, max_price=None)
        out = replace(out, exclude_brand=_union(out.exclude_brand, newer.exclude_brand),
                      exclude_colour=_union(out.exclude_colour, newer.exclude_colour))
        # asking for a brand or colour again lifts its exclusion, and the other way round
        out = replace(out, exclude_brand=tuple(b for b in out.exclude_brand if b not in newer.brand),
                      exclude_colour=tuple(c for c in out.exclude_colour if c not in newer.colour))
        return replace(out, brand=tuple(b for b in out.brand if b not in newer.exclude_brand),
                       colour=tuple(c for c in out.colour if c not in newer.exclude_colour))

    def chips(self) -> list[tuple[str, str]]:
        """(label, key) of every active constraint, in a stable order."""
        out: list[tuple[str, str]] = []
        for key in CHIP_ORDER:
            label = self._label(key)
            if label:
                out.append((label, key))
        return out

    def _label(self, key: str) -> str:
        if key == "price":
            lo, hi = self.min_price, self.max_price
            if lo is not None and hi is not None:
                return f"Price: {rupees(lo)} – {rupees(hi)}"
            if hi is not None:
                return f"Price: under {rupees(hi)}"
            return f"Price: over {rupees(lo)}" if lo is not None else ""
        values: tuple[str, ...] = getattr(self, key)
        if not values:
            return ""
        if key == "gender":
            main = [g for g in values if g != "Unisex"] or list(values)
            return "For: " + " / ".join(main) + (" (+ unisex)" if len(main) < len(values) else "")
        names = {"article_type": "Category", "colour": "Colour", "usage": "Occasion", "brand": "Brand",
                 "exclude_brand": "Not brand", "exclude_colour": "Not colour"}
        return f"{names[key]}: {' / '.join(values)}"

    def keep(self, keys: Iterable[str]) -> Constraints:
        """Only the chips still ticked; an unticked chip removes its constraint."""
        kept = set(keys)
        out = self
        if "price" not in kept:
            out = replace(out, min_price=None, max_price=None)
        for key in CHIP_ORDER[1:]:
            if key not in kept:
                out = replace(out, **{key: ()})
        return out

    def filters(self, exclude_ids: Sequence[str] = ()) -> Filters:
        return Filters(min_price=self.min_price, max_price=self.max_price, gender=self.gender,
                       article_type=self.article_type, colour=self.colour, usage=self.usage, brand=self.brand,
                       exclude_brand=self.exclude_brand, exclude_colour=self.exclude_colour,
                       exclude_ids=tuple(exclude_ids))

    def admits(self, product: dict) -> bool:
        """Whether a product (index metadata or a card) meets every constraint."""
        price = product.get("sale_price")
        price = price if isinstance(price, (int, float)) and price >= 0 else None
        if self.min_price is not None and (price is None or price < self.min_price):
            return False
        if self.max_price is not None and (price is None or price > self.max_price):
            return False
        for key, values in (("gender", self.gender), ("article_type", self.article_type), ("base_colour", self.colour),
                            ("usage", self.usage), ("brand", self.brand)):
            if values and product.get(key) not in values:
                return False
        return product.get("brand") not in self.exclude_brand and product.get("base_colour") not in self.exclude_colour

    def reasons(self, product: dict) -> list[str]:
        """The constraints a product meets, as short reasons ("category: Shirts", "under ₹1,500")."""
        out = []
        for key, label, values in (("gender", "gender", self.gender), ("article_type", "category", self.article_type),
                                   ("base_colour", "colour", self.colour), ("usage", "occasion", self.usage),
                                   ("brand", "brand", self.brand)):
            if values and product.get(key) in values:
                out.append(f"{label}: {product[key]}")
        if self.max_price is not None and self.min_price is not None:
            out.append(f"{rupees(self.min_price)} – {rupees(self.max_price)}")
        elif self.max_price is not None:
            out.append(f"under {rupees(self.max_price)}")
        elif self.min_price is not None:
            out.append(f"over {rupees(self.min_price)}")
        if self.exclude_brand:
            out.append(f"not {' / '.join(self.exclude_brand)}")
        return out

    def words(self) -> str:
        """The constraints as search words ("women blue heels"), for the text encoder."""
        gender = [g for g in self.gender if g != "Unisex"] or list(self.gender)
        parts = [*gender[:1], *self.colour[:1], *self.usage[:1], *self.brand[:1], *self.article_type[:2]]
        return " ".join(parts).lower()

    def describe(self, language: str = "en", noun: str = "") -> str:
        """What is understood, in a few plain words: "women's black handbags under ₹1,000, Nike only"
        (`noun` when no category is set). Every chip is in it, so the chips and the reply always agree."""
        kinds = self.article_type or ((noun,) if noun else ())
        if language == "zh":
            usage = "".join(zh_name(u) for u in self.usage[:1])
            text = "".join(zh_name(v[0]) for v in (self.gender[:1], self.colour[:1]) if v) + usage
            text += "或".join(zh_name(k) for k in kinds) or "商品"
            if self.min_price is not None and self.max_price is not None:
                text += f"（{rupees(self.min_price)}–{rupees(self.max_price)}）"
            elif self.max_price is not None:
                text += f"（{rupees(self.max_price)} 以下）"
            elif self.min_price is not None:
                text += f"（{rupees(self.min_price)} 以上）"
            extra = [f"只要{'/'.join(self.brand)}"] if self.brand else []
            extra += [f"不要{'/'.join(self.exclude_brand)}"] if self.exclude_brand else []
            extra += [f"不要{'/'.join(zh_name(c) for c in self.exclude_colour)}"] if self.exclude_colour else []
            return "，".join([text, *extra])
        who = {"Men": "men's", "Women": "women's", "Boys": "boys'", "Girls": "girls'", "Unisex": "unisex"}
        gender = next((who[g] for g in self.gender if g in who and g != "Unisex"), "")
        gender = gender or ("unisex" if self.gender else "")
        words = [gender, " or ".join(c.lower() for c in self.colour), " / ".join(u.lower() for u in self.usage),
                 " or ".join(t.lower() for t in kinds) or ("products" if not self.is_empty() else "")]
        text = " ".join(w for w in words if w)
        if self.min_price is not None and self.max_price is not None:
            text += f" between {rupees(self.min_price)} and {rupees(self.max_price)}"
        elif self.max_price is not None:
            text += f" under {rupees(self.max_price)}"
        elif self.min_price is not None:
            text += f" over {rupees(self.min_price)}"
        if self.brand:
            text += f", {' or '.join(self.brand)} only"
        if self.exclude_brand:
            text += f", not {' or '.join(self.exclude_brand)}"
        if self.exclude_colour:
            text += f", not {' or '.join(c.lower() for c in self.exclude_colour)}"
        return text.strip()


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))


# ---------------------------------------------------------------------------------------------------
# the session
# ---------------------------------------------------------------------------------------------------
def summarize(product_id: str, product: dict, score: float = 0.0, reasons: Sequence[str] = ()) -> dict:
    """The fields of a product the chat keeps and the API returns."""
    def price(key: str) -> float | None:
        value = product.get(key)
        return float(value) if isinstance(value, (int, float)) and value >= 0 else None

    return {"id": product_id, "title": str(product.get("title", "")), "brand": str(product.get("brand", "")),
            "price": price("price"), "sale_price": price("sale_price") if price("sale_price") is not None else price("price"),
            "currency": str(product.get("currency") or "INR"), "image": str(product.get("image", "")),
            "gender": str(product.get("gender", "")), "article_type": str(product.get("article_type", "")),
            "base_colour": str(product.get("base_colour", "")), "usage": str(product.get("usage", "")),
            "score": round(float(score), 4), "reasons": list(reasons)}


@dataclass
class Session:
    """One shopper's conversation: the current request, what is on screen, likes and dislikes."""

    text: str = ""  # the request's own words
    subject: str = ""  # its words that are not constraints ("party", "with pockets")
    language: str = "en"
    photo: bytes | None = field(default=None, repr=False)  # shopper's photo, in memory only
    photo_path: str = ""  # a catalog photo ("more like the second one")
    photo_description: str = ""
    photo_facets: dict[str, str] = field(default_factory=dict)  # what the photo shows (gender, type …)
    constraints: Constraints = field(default_factory=Constraints)
    settled: bool = False  # after the first search the chips are the constraints
    shown: list[dict] = field(default_factory=list)  # the cards on screen, in order
    seen_ids: list[str] = field(default_factory=list)  # every card shown for this request
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)
    page: int = 0
    ranked: list[str] = field(default_factory=list)  # ids best first: the cards on screen, then the next ones
    history: list[Session] = field(default_factory=list, repr=False)  # earlier states, for "go back"
    focus: str = ""  # the product the shopper is looking at (its page open, or last asked about)
    sort: str = "relevance"  # a key of SORTS

    @property
    def active(self) -> bool:
        return bool(self.text or self.photo or self.photo_path)

    def copy(self) -> Session:
        return replace(self, photo_facets=dict(self.photo_facets), shown=list(self.shown), seen_ids=list(self.seen_ids),
                       likes=list(self.likes), dislikes=list(self.dislikes), ranked=list(self.ranked),
                       history=list(self.history))

    def noun(self) -> str:
        """What kind of product this request is about when no category chip says it."""
        return self.photo_facets.get("article_type", "")

    def ranked_ids(self) -> list[str]:
        """The ids on screen, then those that would come next, best first."""
        shown = [p["id"] for p in self.shown]
        return shown + [i for i in self.ranked if i not in set(shown)]

    def prices(self) -> list[float]:
        return [p["sale_price"] for p in self.shown if p.get("sale_price") is not None]

    def link_query(self) -> str:
        """The current search in words that ask for it again ("women's black heels under ₹1,500, Nike only"):
        what a `?q=` link reopens. "" when there is no search in words (a photo alone)."""
        if not self.active or not self.settled:
            return self.text
        what = self.constraints.describe("en", self.noun().lower())
        return " ".join(w for w in (self.subject, what) if w).strip()


def discount(p: dict) -> int:
    """A card's discount in whole percent (0 without one)."""
    sale, price = p.get("sale_price"), p.get("price")
    return round((price - sale) / price * 100) if sale is not None and price and sale < price else 0


SORTS: dict[str, tuple[str, Callable[[dict], float] | None]] = {  # key → (label, sort key; None keeps relevance)
    "relevance": ("Relevance", None),
    "price_asc": ("Price: low to high", lambda p: p["sale_price"] if p.get("sale_price") is not None else float("inf")),
    "price_desc": ("Price: high to low", lambda p: -p["sale_price"] if p.get("sale_price") is not None else float("inf")),
    "discount": ("Biggest discount", lambda p: -discount(p)),
}


def sort_cards(cards: Sequence[dict], key: str) -> list[dict]:
    """Cards in the shopper's chosen order (stable: equal ones keep their relevance order)."""
    by = SORTS.get(key, SORTS["relevance"])[1]
    return sorted(cards, key=by) if by else list(cards)


# ---------------------------------------------------------------------------------------------------
# what a follow-up message means
# ---------------------------------------------------------------------------------------------------
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4,
            "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7, "ninth": 8, "9th": 8,
            "tenth": 9, "10th": 9, "eleventh": 10, "11th": 10, "twelfth": 11, "12th": 11, "last": -1}
ZH_ORDINALS = {"一": 0, "二": 1, "两": 1, "三": 2, "四": 3, "五": 4, "六": 5, "七": 6, "八": 7, "九": 8, "十": 9}
RELATIVE = re.compile(r"\b(?:by|add|plus|extra|another|more)\b|加|增加|多|减少|减|少|降低", re.I)
_FILLER_WORDS = """a an the and or but for in on with of to at by from as is are be it its them they those these this that
i i'm im me my we you your please pls show see find get give want need would like love could can do does have has got
any anything some something ones one only just also instead too either now then maybe prefer rather kind sort style
version versions option options colour color shade same what about how ok okay yes thanks thank well so make it's
less than more under below over above rupees rupee rs inr bucks price priced within upto up budget cost costing
not no without other different brand brands actually really very bit little lot thing things stuff exact look
they're their there they're gift present buying shopping wear wearing hmm great cool next let's lets
要 想 买 的 一些 一点 有 吗 呢 吧 给 我 看看 看 换成 换 成 改 颜色 款 只 请 帮 找 一下 还 也 再 是
啊 呀 了 些 个 件 现在 但是 这个 像 同样"""
FILLER = frozenset(_FILLER_WORDS.split())
CJK = re.compile(r"[\u3400-\u9fff]")
NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(k\b)?", re.I)


@dataclass(frozen=True)
class Intent:
    """What a message does: `kind` is an act of `intents.ACTS` ("cheaper", "drop_colour" …) or "new"; the
    constraints are those the message itself names; `amount` a number it gives ("by 500", "to 3000")."""

    kind: str
    constraints: Constraints = field(default_factory=Constraints)
    ordinal: int | None = None  # the card referred to (0-based; -1 is the last), if any
    amount: float | None = None
    relative: bool = False  # the amount is a change ("by 500"), not a new value ("to 3000")
    words: tuple[str, ...] = ()  # words that are neither a constraint nor filler ("with pockets")


def ordinal(message: str) -> int | None:
    """Which card a message points at: "the second one" → 1, "#3" → 2, "第二个" → 1, "the last" → -1; None: none."""
    m = re.search(r"第\s*([一二两三四五六七八九十]|\d+)\s*(?:个|件|款)?", message)
    if m:
        g = m.group(1)
        return int(g) - 1 if g.isdigit() else ZH_ORDINALS[g]
    if "最后" in message:
        return -1
    low = message.lower()
    m = re.search(r"(?:#|\bno\.?|\bnumber)\s*(\d+)", low) or re.search(r"\b(\d+)(?:st|nd|rd|th)\b", low) \
        or re.search(r"\b(?:like|to)\s+(?:the\s+)?(\d+)\b", low)
    if m:
        return max(int(m.group(1)) - 1, 0)
    for word, n in ORDINALS.items():
        if re.search(rf"\b{word}\b", low):
            return n
    return None


def amount(message: str) -> float | None:
    """The first number in a message ("1.5k" → 1500; Chinese numerals read too)."""
    from .understanding import en_numerals, zh_numerals

    m = NUMBER.search(zh_numerals(message) if CJK.search(message) else en_numerals(message))
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * 1000 if m.group(2) else value


def content_words(u: Understanding, understand: Callable[[str], Understanding]) -> list[str]:
    """Words of a request that are neither a constraint (colour, type, price …) nor filler."""
    words: list[str] = []
    text = re.sub(r"\d[\d,.]*\s*k?", " ", u.search_text.lower())
    for token in re.findall(r"[\w'\-]+", text):
        if CJK.search(token):
            token = "".join(ch for ch in token if ch not in FILLER)
            if not token:
                continue
        if token in FILLER or len(token) < 2:
            continue
        t = understand(token)
        if t.facets or t.excluded or t.max_price is not None or t.min_price is not None:
            continue
        words.append(token)
    return words


def interpret(message: str, session: Session, understanding: Understanding | None, act: str,
              understand: Callable[[str], Understanding], new_photo: bool = False) -> Intent:
    """What a message does to the current request, given the act the intent model recognised in it and the
    slots the understanding found: a message with nothing to refine yet (or a new photo) is a new request."""
    if new_photo or not session.active or not message.strip():
        return Intent("new")
    asked = Constraints.from_understanding(understanding)
    words = tuple(content_words(understanding, understand)) if understanding else ()
    n = amount(message)
    intent = Intent(act, asked, ordinal(message), n, bool(n is not None and RELATIVE.search(message)), words)
    if act == "reset":
        return Intent("new") if not asked.is_empty() else intent  # "start over with red shirts"
    if act in ("cap", "floor"):
        if asked.max_price is None and asked.min_price is None and n is None:
            return replace(intent, kind="cheaper" if act == "cap" else "pricier")
        return intent
    if act == "switch" and not asked.article_type:
        return replace(intent, kind="refine")  # no new kind of product named: a change of the current request
    if act in ("more", "back") and asked.without_price() != Constraints():
        return replace(intent, kind="refine")  # "more in blue"
    return intent


# ---------------------------------------------------------------------------------------------------
# from state to an Engine.search call
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchCall:
    """The arguments of `Engine.search` for the current state."""

    text: str | None
    image: bytes | str | None
    filters: Filters
    top_k: int
    like_ids: tuple[str, ...] = ()
    dislike_ids: tuple[str, ...] = ()
    use_understanding: bool = True

    def kwargs(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["use_understanding"]:
            out.pop("use_understanding")  # the engine's default
        return out


def search_call(session: Session, exclude_ids: Sequence[str] = (), page_size: int = PAGE_SIZE) -> SearchCall:
    """First search of a request: the engine reads the words itself. Later searches: the chips are the
    constraints (hard filters); the words are the request's subject plus the chips in words, or, with a
    photo, only its subject: the photo says what it looks like and the filters what must differ."""
    image: bytes | str | None = session.photo if session.photo is not None else (session.photo_path or None)
    exclude = tuple(dict.fromkeys([*exclude_ids, *session.dislikes]))
    likes, dislikes = tuple(session.likes), tuple(session.dislikes)
    if not session.settled:
        return SearchCall(session.text or None, image, Filters(exclude_ids=exclude), page_size, likes, dislikes)
    if image is not None:
        words = session.subject
    else:
        words = " ".join(w for w in (session.constraints.words(), session.subject) if w).strip() or session.text
    return SearchCall(words or None, image, session.constraints.filters(exclude), page_size, likes, dislikes,
                      use_understanding=False)


def cheaper_limit(prices: Sequence[float]) -> float | None:
    """The new budget for "cheaper": below the median price of what is on screen."""
    if not prices:
        return None
    return max(float(int(statistics.median(prices))) - 1.0, 0.0)


def pricier_floor(prices: Sequence[float]) -> float | None:
    if not prices:
        return None
    return float(int(statistics.median(prices))) + 1.0


def resolve(session: Session, n: int) -> dict | None:
    """The n-th card on screen (-1: the last), or None."""
    if not session.shown:
        return None
    if n < 0:
        return session.shown[-1]
    return session.shown[n] if n < len(session.shown) else None
