"""Request understanding: price limits, gender, colour, type, usage and brand from English or Chinese
words, matched against the catalog's own facet values (plus small language lexicons)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

RESOURCES = Path(__file__).parent / "resources"
CJK = re.compile(r"[\u3400-\u9fff]")
# facet name in the index → lexicon section that feeds it
FACET_LEXICON = {"gender": "gender", "base_colour": "colour", "article_type": "type", "usage": "usage"}
SOFT_FACETS = ("gender", "article_type", "base_colour", "usage", "brand")
REFUSAL_GAP = {"就", "也", "都", "那种", "这种", "这个", "那个", "牌子", "品牌", "is", "are", "a", "the", "one", "ones", "brand"}
STOPWORDS = {"a", "an", "the", "and", "or", "for", "in", "on", "with", "of", "to", "me", "my", "i", "want",
             "some", "something", "show", "find", "looking", "need", "like", "this", "that", "but", "same",
             "one", "ones", "please", "image", "basics", "genesis", "police", "id", "w", "doodle", "facit"}
_NUM = r"(\d[\d,]*(?:\.\d+)?)\s*(k)?"
_CUR = r"(?:rs\.?|inr|₹|rupees?|rupee|bucks)?"
_NOT = r"\b(?:nothing|not|no|never|none|won'?t|don'?t|do not|will not|shouldn'?t)\b"
_GAP = (r"(?:\s+(?:anything|something|show|showing|me|go|going|to|pay|paying|want|spend|spending|priced|costing|that|"
        r"costs?|items?|ones?|i|can|please|any|products?|things?|stuff|a|an|the|one))*\s+")
PRICE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("range", re.compile(rf"(?:between|from)\s*{_CUR}\s*{_NUM}\s*{_CUR}\s*(?:and|to|-|–)\s*{_CUR}\s*{_NUM}\s*{_CUR}", re.I)),
    ("range", re.compile(rf"{_CUR}\s*{_NUM}\s*{_CUR}\s*(?:-|–|to)\s*{_CUR}\s*{_NUM}\s*(?:rs\.?|inr|₹|rupees?)", re.I)),
    ("range", re.compile(rf"(?:₹|rs\.?|inr)\s*{_NUM}\s*(?:-|–|to)\s*(?:₹|rs\.?|inr)\s*{_NUM}", re.I)),
    ("range", re.compile(r"(\d+)\s*(千)?\s*(?:元|块)?\s*(?:到|至|-|~)\s*(\d+)\s*(千)?\s*(?:元|块)")),
    # a refused comparison is the other limit: "nothing above 400" is a cap, "nothing under 500" a floor
    ("max", re.compile(rf"{_NOT}{_GAP}(?:above|over|more than|pricier than|past|beyond|exceed(?:ing)?)\s*"
                       rf"{_CUR}\s*{_NUM}\s*{_CUR}", re.I)),
    ("min", re.compile(rf"{_NOT}{_GAP}(?:below|under|less than|cheaper than)\s*{_CUR}\s*{_NUM}\s*{_CUR}", re.I)),
    ("max", re.compile(rf"(?:under|below|less than|cheaper than|within|up\s*to|upto|max(?:imum)?|at most|"
                       rf"not more than|no more than|not over|budget(?:\s+(?:of|is))?|<|≤)\s*{_CUR}\s*{_NUM}\s*{_CUR}", re.I)),
    ("max", re.compile(rf"{_CUR}\s*{_NUM}\s*{_CUR}\s*(?:or less|and under|and below|max)", re.I)),
    ("max", re.compile(r"(?:低于|不超过|不要超过|别超过|不能超过|不到|少于|小于|最多|顶多|预算)\s*(\d+)\s*(千)?\s*(?:元|块)?")),
    ("max", re.compile(r"(\d+)\s*(千)?\s*(?:元|块)?\s*(?:以下|以内|之内|左右以内)")),
    ("min", re.compile(rf"(?:over|above|more than|at least|min(?:imum)?|costlier than|>|≥)\s*{_CUR}\s*{_NUM}\s*{_CUR}", re.I)),
    ("min", re.compile(r"(?:高于|超过|至少|最少|起码|不低于|不要低于|不能低于)\s*(\d+)\s*(千)?\s*(?:元|块)?")),
    ("min", re.compile(r"(\d+)\s*(千)?\s*(?:元|块)?\s*以上")),
]
ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def zh_numerals(text: str) -> str:
    """Replace Chinese numerals ("一千五百", "两千") with digits."""
    def conv(m: re.Match[str]) -> str:
        total, current, last_unit = 0, 0, 1
        for ch in m.group(0):
            if ch in ZH_DIGITS:
                current = ZH_DIGITS[ch]
            else:
                unit = ZH_UNITS[ch]
                total += (current or 1) * unit
                current, last_unit = 0, unit
        if current:  # "一千五" means 1500
            total += current * (last_unit // 10 if last_unit >= 10 else 1)
        return str(total)
    digits, units = "零一二两三四五六七八九", "十百千万"
    return re.sub(rf"[{digits}][{digits}{units}]*[{units}][{digits}]?|十[{digits}]?", conv, text)


EN_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
            "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
EN_NUMBERS = {w: n for n, w in enumerate(EN_UNITS)} | {w: 10 * n for n, w in enumerate(EN_TENS, 2)}
EN_SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000, "k": 1000, "lakh": 100000}
_EN_NUMBER = re.compile(r"\b(?:(?:a|an|\d+(?:\.\d+)?|" + "|".join(EN_NUMBERS) + r"|" + "|".join(EN_SCALES) +
                        r")(?:[\s-]+(?:and[\s-]+)?|\b)?)+", re.I)


def en_numerals(text: str) -> str:
    """Spoken-style amounts as digits: "a thousand" → 1000, "two thousand five hundred" → 2500, "fifteen
    hundred" → 1500, "1.5 thousand" → 1500. Runs without a scale word ("two shirts") stay as they are."""
    def conv(m: re.Match[str]) -> str:
        words = re.findall(r"[a-z]+|\d+(?:\.\d+)?", m.group(0).lower())
        if not any(w in EN_SCALES and w != "k" for w in words):
            return m.group(0)
        total = current = 0.0
        for w in words:
            if w in EN_SCALES:
                scale = EN_SCALES[w]
                if scale == 100:
                    current = (current or 1) * 100
                else:
                    total, current = total + (current or 1) * scale, 0.0
            elif w not in ("and", "a", "an"):
                current += float(w) if w[0].isdigit() else EN_NUMBERS[w]
        value = total + current
        tail = " " if m.group(0)[-1:].isspace() else ""
        return f"{value:g}{tail}"
    return _EN_NUMBER.sub(conv, text)


@dataclass(frozen=True)
class Understanding:
    """What a request constrains. Facet values are the catalog's own."""

    query: str
    search_text: str
    language: str = "en"
    min_price: float | None = None
    max_price: float | None = None
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    negative_text: str = ""

    def chips(self) -> list[str]:
        """Short labels of what was understood, for the UI."""
        out = []
        if self.min_price is not None and self.max_price is not None:
            out.append(f"price: {self.min_price:g}–{self.max_price:g}")
        elif self.max_price is not None:
            out.append(f"price ≤ {self.max_price:g}")
        elif self.min_price is not None:
            out.append(f"price ≥ {self.min_price:g}")
        for facet, values in self.facets.items():
            out.append(f"{facet.replace('base_', '').replace('_', ' ')}: {' / '.join(values)}")
        for facet, values in self.excluded.items():
            out.append(f"not {facet.replace('base_', '').replace('_', ' ')}: {' / '.join(values)}")
        return out

    def without(self, facet: str) -> Understanding:
        return replace(self, facets={k: v for k, v in self.facets.items() if k != facet})


@lru_cache(maxsize=1)
def _lexicons() -> tuple[dict, dict]:
    return (json.loads((RESOURCES / "lexicon_en.json").read_text(encoding="utf-8")),
            json.loads((RESOURCES / "lexicon_zh.json").read_text(encoding="utf-8")))


def _norm(text: str) -> str:
    text = text.lower().replace("’", "'").replace("'s ", " ").replace("s' ", "s ")
    text = re.sub(r"(?<=\w)'s\b", "", text)
    return re.sub(r"[^\w\s\-\u3400-\u9fff]", " ", text)


def _variants(value: str, plural: bool) -> set[str]:
    v = _norm(value).strip()
    forms = {v, v.replace("-", " "), v.replace("-", ""), v.replace(" ", "")}
    if plural:
        for f in list(forms):
            if f.endswith("es"):
                forms.add(f[:-2])
            if f.endswith("s"):
                forms.add(f[:-1])
            else:
                forms.add(f + "s")
    return {f for f in forms if len(f) > 1}


class Vocabulary:
    """Surface forms → catalog facet values, built from the index's own values plus the lexicons."""

    def __init__(self, values: dict[str, dict[str, int]]) -> None:
        self.values = {f: dict(v) for f, v in values.items()}
        self.forms: dict[str, dict[str, set[str]]] = {}
        en, _ = _lexicons()
        for facet in SOFT_FACETS:
            for value in self.values.get(facet, {}):
                if not value or value.upper() == "NA":
                    continue
                if facet == "brand" and (len(value) < 3 or _norm(value).strip() in STOPWORDS):
                    continue
                for form in _variants(value, plural=facet == "article_type"):
                    self._add(form, facet, value)
        for facet, section in FACET_LEXICON.items():
            known = sorted(self.values.get(facet, {}), key=len, reverse=True)
            for word, target in en.get(section, {}).items():
                hits, rest = [], target.lower()
                for value in known:  # longest catalog values first, each consumed once
                    if value.lower() in rest:
                        hits.append(value)
                        rest = rest.replace(value.lower(), " ")
                for value in hits:
                    self._add(_norm(word).strip(), facet, value)
        self.negations = _phrases(en.get("negation", []))
        self.negations_after = _phrases(en.get("negation_after", []))  # "Puma? no thanks", "耐克的就算了"
        self.max_len = max((len(f.split()) for f in self.forms), default=1)

    def _add(self, form: str, facet: str, value: str) -> None:
        self.forms.setdefault(form, {}).setdefault(facet, set()).add(value)

    def named(self, tokens: list[str], i: int) -> tuple[int, str, dict[str, set[str]]] | None:
        """The longest catalog phrase starting at token i: (its length in tokens, the phrase, facet → values)."""
        for n in range(min(self.max_len, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i:i + n])
            found = self.forms.get(phrase)
            if found:
                return n, phrase, found
        return None


def _phrases(words: list[str]) -> list[tuple[str, ...]]:
    """Lexicon phrases as normalised tokens (as messages are tokenised: "don't like" → don t like), longest first."""
    return sorted({tuple(_norm(w).split()) for w in words if _norm(w).split()}, key=len, reverse=True)


def _starts(tokens: list[str], i: int, phrases: list[tuple[str, ...]]) -> int:
    """The length of the phrase of `phrases` that starts at token i (0: none)."""
    return next((len(p) for p in phrases if tuple(tokens[i:i + len(p)]) == p), 0)


def zh_terms() -> dict[str, str]:
    """The request lexicon: Chinese shopping words → English words (brands, colours, who it's for, kinds …)."""
    return _lexicons()[1]["terms"]


def translate(text: str, terms: dict[str, str]) -> str:
    """Longest-match Chinese → English words of `terms`; characters with no entry are kept as they are."""
    longest = max(len(k) for k in terms)
    out, i = [], 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 0, -1):
            piece = text[i:i + n]
            if piece in terms:
                out.append(f" {terms[piece]} ")
                i += n
                break
        else:
            out.append(text[i])
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _number(digits: str, k: str | None) -> float:
    value = float(digits.replace(",", ""))
    return value * 1000 if k else value


def parse_price(text: str) -> tuple[float | None, float | None, str]:
    """(min, max, text without the price phrase)."""
    lo = hi = None
    for kind, pattern in PRICE_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        g = m.groups()
        if kind == "range" and lo is None and hi is None:
            a, b = _number(g[0], g[1]), _number(g[2], g[3])
            lo, hi = min(a, b), max(a, b)
        elif kind == "max" and hi is None:
            hi = _number(g[0], g[1])
        elif kind == "min" and lo is None:
            lo = _number(g[0], g[1])
        else:
            continue
        text = text[:m.start()] + " " + text[m.end():]
    return lo, hi, re.sub(r"\s+", " ", text).strip()


def understand(query: str, vocab: Vocabulary) -> Understanding:
    """Parse a shopper's request (English or Chinese) into constraints and the words to search with."""
    raw = re.sub(r"\s+", " ", query).strip()
    language = "zh" if CJK.search(raw) else "en"
    text = zh_numerals(raw) if language == "zh" else en_numerals(raw)
    lo, hi, text = parse_price(text)
    if language == "zh":
        text = translate(text, zh_terms())
    tokens = _norm(text).split()
    facets: dict[str, list[str]] = {}
    excluded: dict[str, list[str]] = {}
    keep: list[str] = []
    negative: list[str] = []
    i, negate_until = 0, -1
    last: tuple[int, str, dict[str, set[str]]] | None = None  # the last thing named and wanted: (end, phrase, values)
    while i < len(tokens):
        after = _starts(tokens, i, vocab.negations_after)
        before = 0 if after else _starts(tokens, i, vocab.negations)
        if after or before:
            end = i + after + before
            # a refusal after what it refuses: "Puma? no thanks"; in Chinese any negation right after a thing named
            # that is not followed by another ("耐克的不要", "耐克的不要，换成蓝色的"; "蓝色不要耐克" refuses Nike)
            if last is not None and all(t in REFUSAL_GAP for t in tokens[last[0]:i]) and \
                    (after or (language == "zh" and vocab.named(tokens, end) is None)):
                _move(last[2], facets, excluded)
                keep.remove(last[1])
                negative.append(last[1])
                last = None
            elif before:
                negate_until = end + 3
            i = end
            continue
        hit = vocab.named(tokens, i)
        if hit:
            n, phrase, found = hit
            negated = i < negate_until
            _move(found, None, excluded if negated else facets)
            (negative if negated else keep).append(phrase)
            last = None if negated else (i + n, phrase, found)
            negate_until = -1  # a negation covers the next thing named, no more
            i += n
        else:
            if i >= negate_until:
                keep.append(tokens[i])
            else:
                negative.append(tokens[i])
            i += 1
    adult = {"Men", "Women"} & set(facets.get("gender", ()))
    if adult and "Unisex" in vocab.values.get("gender", {}):
        facets["gender"].append("Unisex")
    search_text = " ".join(keep) if keep else text
    return Understanding(query=raw, search_text=search_text, language=language, min_price=lo, max_price=hi,
                         facets={k: tuple(v) for k, v in facets.items()},
                         excluded={k: tuple(v) for k, v in excluded.items() if k in ("base_colour", "brand", "article_type")},
                         negative_text=" ".join(negative))


def _move(found: dict[str, set[str]], source: dict[str, list[str]] | None, target: dict[str, list[str]]) -> None:
    """Facet values named by one phrase, into `target` (and out of `source`)."""
    for facet, values in found.items():
        if source is not None and facet in source:
            source[facet] = [v for v in source[facet] if v not in values]
            if not source[facet]:
                del source[facet]
        bucket = target.setdefault(facet, [])
        bucket.extend(v for v in sorted(values) if v not in bucket)


PRICE_WORDS = ("under", "below", "less", "than", "over", "above", "more", "between", "from", "budget", "max",
               "maximum", "up", "within", "around", "rupees", "rupee", "rs", "inr", "bucks", "thousand", "hundred")


def speech_words(vocab: Vocabulary) -> frozenset[str]:
    """The English words a shopper's request is made of (catalog values, lexicon, price and filler
    words): speech recognition prefers, among near-equal hypotheses, the one made of them."""
    words = _catalog_words(vocab)
    words |= {w for neg in [*vocab.negations, *vocab.negations_after] for w in neg if w.isascii() and w.isalpha()}
    return frozenset(words | STOPWORDS | set(PRICE_WORDS))


def _catalog_words(vocab: Vocabulary) -> set[str]:
    return {w for form in vocab.forms for w in re.findall(r"[a-z]+", form)}


def speech_spellings(vocab: Vocabulary) -> dict[str, str]:
    """Each spelling of a word spelt two ways (the lexicon's `spelling` pairs: grey / gray) → the one the catalog
    uses, so speech recognition writes what it hears as the shop does; a word the catalog does not use is spelt
    the way most of the pairs it uses are (British, the lexicon's first, on a tie)."""
    words, pairs = _catalog_words(vocab), _lexicons()[0].get("spelling", [])
    used = [next(i for i, v in enumerate(pair) if v in words) for pair in pairs if any(v in words for v in pair)]
    side = int(2 * sum(used) > len(used))
    out: dict[str, str] = {}
    for pair in pairs:
        shop = next((v for v in pair if v in words), pair[side])
        out.update({v: shop for v in pair if v != shop})
    return out


def speech_prompts(vocab: Vocabulary) -> dict[str, str]:
    """Per-language prompts that bias speech recognition towards the catalog's own words: short
    requests in the shopper's style ("men's navy blue shirts, …") over the most common colours
    and types, which Whisper reads as the conversation so far."""
    def common(facet: str, n: int) -> list[str]:
        values = vocab.values.get(facet, {})
        return [v.lower() for v, _ in sorted(values.items(), key=lambda kv: -kv[1]) if v and v.upper() != "NA"][:n]
    colours, types = common("base_colour", 30), common("article_type", 40)
    forms = ("men's {c} {t}", "{c} {t} for women", "{c} {t} for men", "women's {c} {t}")
    requests = [forms[i % 4].format(c=colours[i % len(colours)], t=t) for i, t in enumerate(types)] if colours else types
    en = ", ".join(requests) + ", prices in rupees."  # no digits: they pull spoken prices towards them
    _, zh = _lexicons()
    zh_words = [k for k in zh["terms"] if len(k) >= 2 and zh["terms"][k].strip()][:80]
    return {"en": en, "zh": "，".join(zh_words) + "。"}
