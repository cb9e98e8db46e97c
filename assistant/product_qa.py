"""Questions about one product ("is it machine washable?", "does it come in M?", "what is it made of?"),
answered only from that product's own catalog data: its description, attributes, sizes, colours, price and
facets. When none of them tells, the answer says so. Pure functions over a product dict (catalog fields);
the chat (`assistant.chat`) decides which product a question is about."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

YES, NO, UNKNOWN, INFO = "yes", "no", "unknown", "info"
NEGATION = re.compile(r"\b(?:do not|don't|dont|not|never|no|without|avoid)\b", re.I)
_STOP_WORDS = """a an the is are am was be it its it's this that these those one ones does do did can could will would
should has have had i me my you your we of to in on for with and or any how what which who whom whose where when why
there their they them as at by from about much many please tell know does come available made make get also very
product item piece really still so if yes no like want need"""
STOP = frozenset(_STOP_WORDS.split())
_COLOURS_WORDS = """black white blue red green yellow pink purple orange brown grey gray navy beige maroon cream olive
teal gold silver khaki magenta peach tan lavender mustard turquoise charcoal rust burgundy copper bronze coffee
multi off-white"""
COLOURS = frozenset(_COLOURS_WORDS.split())
SIZE_WORDS = {"extra small": "XS", "small": "S", "medium": "M", "large": "L", "extra large": "XL",
              "double extra large": "XXL", "free size": "FREE SIZE", "one size": "ONESIZE"}
SIZE_TOKEN = re.compile(r"\b(?:size\s+)?((?:(?:uk|eu|euro|us)\s*)?(?:xxs|xs|s|m|l|xl|xxl|xxxl|[2-5]xl|"
                        r"\d{1,2}(?:\.\d)?(?:\s*(?:m|yrs|years|y))?))(?![\w.])", re.I)
DIMENSION = re.compile(r"\b(?:height|width|depth|length|diameter|thickness|size)\b.{0,20}\d|\d\s*(?:cm|mm|inch|\")", re.I)
ALIKE = {"stretch": r"stretch|spandex|elastane|lycra", "waterproof": r"waterproof|water[- ]resist",
         "water": r"waterproof|water[- ]resist", "polaris": r"polari[sz]", "pocket": r"pocket"}
CLOSURES = {"lac": r"\blac(?:e|es|ing|ed)\b|lace-up", "velcro": r"velcro", "zip": r"\bzip", "buckle": r"buckle",
            "button": r"\bbutton", "slip-on": r"slip-on", "stud": r"press stud", "hook": r"\bhook"}
CARE = re.compile(r"wash|iron|bleach|dry clean|tumble|dry in shade|dry flat|line dry|drip dry|wring|soak|wipe|"
                  r"detergent|dry inside|flat dry|dryclean", re.I)
_MATERIALS_WORDS = """cotton polyester leather wool woollen silk linen denim synthetic nylon rubber canvas suede viscose
rayon spandex lycra elastane acrylic jute mesh metal steel stainless plastic fleece satin chiffon georgette crepe
velvet tpr eva pu phylon knit jersey modal khadi brass alloy glass"""
MATERIALS = frozenset(_MATERIALS_WORDS.split())
HEADINGS = re.compile(r"^(?:wash ?care|care|shoe care|sandal care|care instructions|composition|fitting|fit|material|"
                      r"upper|midsole|outsole|model statistics|features|warranty|dimensions)\s*:?$", re.I)


@dataclass(frozen=True)
class Answer:
    """What the catalog says: `verdict` yes / no / info (a fact, not a yes-no), or unknown (it doesn't say);
    `text` is the sentence for the shopper, quoting the product's own words."""

    verdict: str
    text: str


# ---------------------------------------------------------------------------------------------------
# reading a product's data
# ---------------------------------------------------------------------------------------------------
def lines(product: dict) -> list[str]:
    """The description's lines (headings included), stripped, empty ones dropped."""
    return [ln.strip(" -•\t") for ln in str(product.get("description") or "").splitlines() if ln.strip(" -•\t")]


def sections(product: dict) -> dict[str, list[str]]:
    """The description's lines under each heading ("wash care", "composition" …; "" before the first)."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for ln in lines(product):
        if HEADINGS.match(ln):
            current = ln.lower().rstrip(":").replace("washcare", "wash care")
            out.setdefault(current, [])
        else:
            out.setdefault(current, []).append(ln)
    return out


def attributes(product: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in (product.get("attributes") or {}).items() if str(v).strip()}


def care_lines(product: dict) -> list[str]:
    """Care instructions: the wash-care attribute, the care sections and any line about washing or ironing."""
    out = [v for k, v in attributes(product).items() if "care" in k.lower()]
    for head, body in sections(product).items():
        out += body if "care" in head else [ln for ln in body if CARE.search(ln)]
    return list(dict.fromkeys(out))


def material_lines(product: dict) -> list[str]:
    """What it is made of: material / fabric attributes, the composition section, lines naming a material."""
    out = [f"{k}: {v}" for k, v in attributes(product).items() if re.search(r"fabric|material|composition", k, re.I)]
    for head, body in sections(product).items():
        if head == "composition" or head in ("upper", "outsole", "midsole", "material"):
            out += [f"{head.capitalize()}: {ln}" if head != "composition" else ln for ln in body]
        else:
            out += [ln for ln in body if re.search(r"\bmade (?:of|from|in)\b|\d+\s*%", ln, re.I) and not CARE.search(ln)]
    return list(dict.fromkeys(out))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9%]+(?:-[a-z0-9]+)?", text.lower())


def quote(found: Sequence[str], n: int = 3) -> str:
    return "; ".join(f"“{x}”" for x in found[:n])


def norm_size(value: str) -> str:
    """"UK 8" → "8", "size m" → "M", "2 yrs" → "2YRS": sizes compared the way a shopper means them."""
    v = re.sub(r"\s+", "", value.upper())
    v = re.sub(r"^(?:SIZE|UK|EU|EURO|US|IND|IN)(?=\d)", "", v)
    return v.replace("YEARS", "YRS").replace("Y", "YRS") if re.fullmatch(r"\d+Y(?:EARS)?", v) else v


# ---------------------------------------------------------------------------------------------------
# topics: each reads the question and, when it is about its topic, answers it
# ---------------------------------------------------------------------------------------------------
def _care(q: str, p: dict) -> Answer | None:
    if not re.search(r"wash|laundr|clean|\biron|bleach|tumble|care|dryer|\bdry\b", q):
        return None
    care = care_lines(p)
    checks: list[tuple[str, str, str]] = [  # (asked, said, what)
        (r"machine[- ]?wash|washing machine|put it in the wash", r"ma[cs]hine[- ]?wash", "machine washed"),
        (r"hand[- ]?wash", r"hand[- ]?wash", "hand washed"),
        (r"dry[- ]?clean", r"dry[- ]?clean", "dry cleaned"),
        (r"tumble|dryer", r"tumble", "tumble dried"),
        (r"bleach", r"bleach", "bleached"),
        (r"\biron", r"\biron", "ironed"),
    ]
    for asked, said, what in checks:
        if not re.search(asked, q):
            continue
        hits = [ln for ln in care if re.search(said, ln, re.I)]
        if hits:
            no = [ln for ln in hits if NEGATION.search(ln.split(re.search(said, ln, re.I).group(0))[0])]  # type: ignore[union-attr]
            if what == "machine washed" and not no and any(re.search(r"\bonly\b", ln, re.I) for ln in hits
                                                            if re.search(r"hand", ln, re.I)):
                no = hits
            verdict = NO if no and len(no) == len(hits) else YES
            if verdict == YES and what == "ironed" and no:
                return Answer(YES, f"Yes, with care — the label says {quote(hits)}.")
            return Answer(verdict, f"{'No' if verdict == NO else 'Yes'} — the care label says {quote(hits)}.")
        if what == "machine washed":
            only = [ln for ln in care if re.search(r"hand[- ]?wash|dry[- ]?clean only", ln, re.I)]
            if only:
                return Answer(NO, f"No — the care label says {quote(only)}.")
        if care:
            return Answer(UNKNOWN, f"The catalog doesn't say whether it can be {what}. Its care notes: {quote(care)}.")
        return Answer(UNKNOWN, f"The catalog doesn't say whether it can be {what}: it has no care instructions.")
    if care:
        return Answer(INFO, f"Care: {quote(care, 5)}.")
    return Answer(UNKNOWN, "The catalog doesn't give care instructions for this one.")


def _material(q: str, p: dict) -> Answer | None:
    named = [m for m in MATERIALS if re.search(rf"\b{m}\b", q)]
    if not (named or re.search(r"made (?:of|from|out of)|material|fabric|composition|what.{0,12}\bmade\b", q)):
        return None
    found = material_lines(p)
    if not found:
        return Answer(UNKNOWN, "The catalog doesn't say what it is made of.")
    if named:
        text = " ".join(found).lower()
        hit = [m for m in named if re.search(rf"\b{m}", text)]
        if hit:
            return Answer(YES, f"Yes — {quote(found)}.")
        return Answer(NO, f"Not as far as the catalog says: {quote(found)}.")
    return Answer(INFO, f"It's made of: {quote(found)}.")


def _asked_colour(q: str) -> list[str]:
    return [c for c in COLOURS if re.search(rf"\b{c}\b", q)]


def _colour(q: str, p: dict) -> Answer | None:
    asked = _asked_colour(q)
    if not (asked or re.search(r"colou?rs?\b|shades?\b", q)):
        return None
    have = list(dict.fromkeys([str(p.get("base_colour") or ""), *(p.get("colours") or [])]))
    have = [c for c in have if c and c.upper() != "NA"]
    if not have:
        return Answer(UNKNOWN, "The catalog doesn't give its colour.")
    listed = " / ".join(have)
    if asked:
        match = [c for c in have if any(a.replace("gray", "grey") in c.lower() for a in asked)]
        if match:
            return Answer(YES, f"Yes — it's {listed}.")
        return Answer(NO, f"No — it's {listed}; the catalog lists no other colour for it.")
    return Answer(INFO, f"It's {listed}.")


def _size(q: str, p: dict) -> Answer | None:
    spelled = next((v for k, v in SIZE_WORDS.items() if re.search(rf"\b{k}\b", q)), None)
    token = SIZE_TOKEN.search(re.sub(r"#\s*\d+|\b\d+(?:st|nd|rd|th)\b|\bno\.?\s*\d+", " ", q))
    about = re.search(r"\bsizes?\b|come in|available in|in (?:a |an )?(?:size )?|fit", q)
    if not about or (not spelled and not token and not re.search(r"\bsizes?\b", q)):
        return None
    lone = token and token.group(1).isalpha() and len(token.group(1)) == 1
    if lone and not spelled and not re.search(r"\b(?:size|in|an?)\s+" + token.group(1) + r"\b", q):
        token = None  # a lone letter that is not asked as a size ("is it a slim fit")
    sizes = [str(s) for s in p.get("sizes") or [] if str(s).strip()]
    wanted = spelled or (token.group(1) if token else "")
    if not sizes:
        return Answer(UNKNOWN, "The catalog doesn't list its sizes.")
    if not wanted:
        return Answer(INFO, f"Sizes: {', '.join(sizes)}.")
    free = [s for s in sizes if re.search(r"free|one ?size", s, re.I)]
    if any(norm_size(wanted) in {norm_size(part) for part in s.split("/")} for s in sizes):
        return Answer(YES, f"Yes — it comes in {wanted.upper()} (sizes: {', '.join(sizes)}).")
    if free:
        return Answer(INFO, f"It comes in one size only ({', '.join(free)}).")
    return Answer(NO, f"No — the sizes listed are {', '.join(sizes)}.")


ATTRIBUTE_WORDS = {  # question word → attribute keys that answer it
    "sleeve": ("sleeve length", "sleeve styling"), "sleeves": ("sleeve length", "sleeve styling"),
    "neck": ("neck",), "collar": ("collar",), "pattern": ("pattern", "print or pattern type"),
    "print": ("print or pattern type", "pattern"), "printed": ("pattern", "print or pattern type"),
    "striped": ("pattern",), "checked": ("pattern",), "solid": ("pattern",),
    "length": ("length",), "long": ("length", "sleeve length"), "short": ("length", "sleeve length"),
    "heel": ("heel height", "heel type"), "heels": ("heel height", "heel type"),
    "fasten": ("fastening", "fastening and back detail", "closure", "compartment closure"),
    "closure": ("closure", "compartment closure", "fastening"), "velcro": ("fastening",), "laces": ("fastening",),
    "lace-up": ("fastening",), "slip-on": ("fastening",), "zip": ("compartment closure", "closure", "fastening"),
    "rise": ("waist rise",), "waist": ("waist rise", "waistband"), "water": ("water resistance",),
    "waterproof": ("water resistance",), "resistant": ("water resistance",), "warranty": ("warranty",),
    "guarantee": ("warranty",), "lens": ("lens colour",), "lenses": ("lens colour",), "strap": ("strap material",),
    "display": ("display",), "digital": ("display",), "analog": ("display",), "analogue": ("display",),
    "movement": ("movement",), "quartz": ("movement",), "transparent": ("transparency",),
    "see-through": ("transparency",), "sheer": ("transparency",), "toe": ("toe shape",), "ankle": ("ankle height",),
    "sole": ("sole material",), "occasion": ("occasion",), "sport": ("sport",), "sports": ("sport",),
    "hemline": ("hemline",), "weave": ("weave type",), "pieces": ("number of components", "multipack set"),
    "pack": ("multipack set", "number of components"), "fit": ("fit",), "slim": ("fit",), "regular": ("fit",),
    "loose": ("fit",), "relaxed": ("fit",), "skinny": ("fit",), "stretch": ("stretch",), "trend": ("main trend",),
}


def _attribute(q: str, p: dict) -> Answer | None:
    """A question naming one of the product's own attributes ("how high is the heel?", "is it slim fit?")."""
    attrs = {k.lower(): (k, v) for k, v in attributes(p).items()}
    ws = words(q)
    keys = [k for w in ws for k in ATTRIBUTE_WORDS.get(w, ()) if k in attrs]
    keys += [k for k in attrs if k not in keys and len(k) > 3 and re.search(rf"\b{re.escape(k)}\b", q)]
    keys = list(dict.fromkeys(keys))
    if not keys:
        return None
    facts = [f"{attrs[k][0]}: {attrs[k][1]}" for k in keys[:3]]
    if not re.match(r"(?:is|are|does|do|has|have|can|will|was|would)\b", q):
        return Answer(INFO, f"{'; '.join(facts)}.")
    values = " ".join(attrs[k][1] for k in keys).lower()
    key_words = {w for k in keys for w in words(k)} | {"sleeve", "sleeves", "sleeved", "fit", "type", "height"}
    vocabulary = {w for _, v in attrs.values() for w in words(v)} | set(ATTRIBUTE_WORDS) | set(VALUE_WORDS)
    content = [w for w in ws if w not in STOP and w not in key_words and len(w) > 2 and w in vocabulary
               and (w not in ATTRIBUTE_WORDS or w in VALUE_WORDS)]
    if not content:  # a yes-no question the attribute's values cannot settle ("are the lenses polarised?")
        return None
    if all(re.search(rf"\b{re.escape(stem(w))}", values) for w in content):
        return Answer(YES, f"Yes — {'; '.join(facts)}.")
    return Answer(NO, f"No — {'; '.join(facts)}.")


VALUE_WORDS = ("full", "half", "short", "long", "round", "v-neck", "high", "low", "mid", "flat", "slim", "regular",
               "printed", "solid", "striped", "checked", "casual", "formal", "party", "sports", "ethnic", "digital",
               "analog", "analogue", "quartz", "velcro", "laces", "lace-up", "slip-on", "zip", "loose", "relaxed", "skinny")


def stem(word: str) -> str:
    """"laces" / "lacing" → "lac", "pockets" → "pocket", "stretchy" → "stretch": enough to find a word's kin."""
    for suffix in ("ing", "es", "ed", "s", "y", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _dimensions(q: str, p: dict) -> Answer | None:
    if not re.search(r"how (?:big|large|tall|wide|long|deep)|dimensions?|measurements?|\bcase diameter", q):
        return None
    found = [ln for ln in lines(p) if DIMENSION.search(ln) and not re.search(r"model|height-|waist-", ln, re.I)]
    if found:
        return Answer(INFO, f"Its measurements: {quote(found, 4)}.")
    return Answer(UNKNOWN, "The catalog doesn't give its measurements.")


def _price(q: str, p: dict) -> Answer | None:
    if not re.search(r"how much|price|cost|discount|\bsale\b|\boff\b|offer|cheap|expensive", q):
        return None
    sale, price = p.get("sale_price"), p.get("price")
    sale = sale if isinstance(sale, (int, float)) and sale >= 0 else None
    price = price if isinstance(price, (int, float)) and price >= 0 else None
    if sale is None and price is None:
        return Answer(UNKNOWN, "The catalog doesn't give its price.")
    now = sale if sale is not None else price
    if price and now is not None and now < price:
        pct = round((price - now) / price * 100)
        verdict = YES if re.search(r"discount|sale|offer|\boff\b", q) else INFO
        return Answer(verdict, f"{'Yes — ' if verdict == YES else ''}₹{now:,.0f}, down from ₹{price:,.0f} ({pct}% off).")
    verdict = NO if re.search(r"discount|sale|offer|\boff\b", q) else INFO
    return Answer(verdict, f"{'No discount — ' if verdict == NO else ''}₹{now:,.0f}.")


def _who(q: str, p: dict) -> Answer | None:
    m = re.search(r"\bfor (men|women|boys|girls|kids|children|unisex|a man|a woman|him|her)\b|\bunisex\b", q)
    if not m or not p.get("gender"):
        return None
    gender = str(p["gender"])
    asked = (m.group(1) or "unisex").replace("a man", "men").replace("a woman", "women").replace("him", "men")
    asked = asked.replace("her", "women").replace("children", "kids")
    ok = asked.rstrip("s") in gender.lower() or gender == "Unisex" or (asked == "kids" and gender in ("Boys", "Girls"))
    return Answer(YES if ok else NO, f"{'Yes' if ok else 'No'} — it's listed for {gender}.")


def _brand(q: str, p: dict) -> Answer | None:
    if not re.search(r"\bbrand\b|who makes|made by|manufacturer", q):
        return None
    return Answer(INFO, f"It's by {p['brand']}.") if p.get("brand") else Answer(UNKNOWN, "The catalog doesn't name its brand.")


def _has(q: str, p: dict) -> Answer | None:
    """"Does it have pockets?", "is it stretchy?", "do they have laces?": the product's own lines about it."""
    if not re.match(r"(?:does|do|has|have|is|are|can|will)\b", q):
        return None
    asked = [w for w in words(q) if w not in STOP and len(w) > 2]
    if not asked:
        return None
    patterns = [ALIKE.get(stem(w)) or ALIKE.get(w) or rf"\b{re.escape(stem(w))}" for w in asked]
    text = [ln for ln in lines(p) if not HEADINGS.match(ln)] + [f"{k}: {v}" for k, v in attributes(p).items()]
    found = [ln for ln in text if all(re.search(pat, ln, re.I) for pat in patterns)]
    if not found:
        closure = next((CLOSURES[stem(w)] for w in asked if stem(w) in CLOSURES), None)
        other = [ln for ln in text for c in CLOSURES.values() if c != closure and re.search(c, ln, re.I)] if closure else []
        if other:
            return Answer(NO, f"No — the description says {quote(list(dict.fromkeys(other)), 2)}.")
        return Answer(UNKNOWN, f"The catalog doesn't say ({' '.join(asked)} isn't mentioned for this product).")
    negated = all(NEGATION.search(ln) for ln in found)
    return Answer(NO if negated else YES, f"{'No' if negated else 'Yes'} — the description says {quote(found, 2)}.")


def _described(q: str, p: dict) -> Answer | None:
    """"How high is the heel?" and other open questions: the description's lines sharing the most words with it."""
    if not re.match(r"(?:what|how|which|where|tell me)\b", q):
        return None
    stems = {stem(w) for w in words(q) if w not in STOP and len(w) > 2}
    scored = [(sum(bool(re.search(rf"\b{re.escape(s)}", ln, re.I)) for s in stems), n, ln)
              for n, ln in enumerate(ln for ln in lines(p) if not HEADINGS.match(ln))]
    best = max((score for score, _, _ in scored), default=0)
    if not best:
        return None
    return Answer(INFO, f"The description says {quote([ln for score, _, ln in scored if score == best], 2)}.")


TOPICS: tuple[Callable[[str, dict], Answer | None], ...] = (_care, _dimensions, _size, _attribute, _colour, _material,
                                                            _price, _who, _brand)


SINGULAR = re.compile(r"\b(?:it|its|it's|this|that)\b")  # one product ("they" may be the cards on screen, or a pair)
POINTED = re.compile(r"\b(?:it|its|it's|this|that|they|them|these|those)\b|#\s*\d|\b(?:first|second|third|fourth|"
                     r"fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|\d+(?:st|nd|rd|th))\b")


def about(question: str) -> bool:
    """Whether a message asks about one product's details ("is #3 machine washable?", "what is it made of?")
    rather than for other products ("do you have blue ones?", "show me something cheaper"): a question that
    points at a product (it, this, #3, the second one) and asks about one of its details."""
    q = question.lower().strip()
    if not (q.endswith("?") or re.match(r"(?:is|are|does|do|can|will|what|which|how|has|have|would|could|tell me)\b", q)):
        return False
    if not POINTED.search(q) or re.search(r"\b(?:show|find|more like|similar|other|others|cheaper|instead|something)\b", q):
        return False
    probe = {"description": "", "attributes": {}, "sizes": ["M"], "colours": ["Blue"], "base_colour": "Blue",
             "price": 1.0, "sale_price": 1.0, "gender": "Men", "brand": "B"}
    yes_no = re.match(r"(?:is|are|does|do|has|have|can|will)\b", q)
    return any(topic(q, probe) is not None for topic in TOPICS) or bool(yes_no)


def answer(question: str, product: dict) -> Answer:
    """The answer to a question about `product` (catalog fields: description, attributes, sizes, colours,
    price, gender …), from that product's own data only."""
    q = re.sub(r"\s+", " ", question.lower().replace("’", "'")).strip()
    for topic in TOPICS:
        found = topic(q, product)
        if found is not None:
            return found
    return _has(q, product) or _described(q, product) or \
        Answer(UNKNOWN, "The catalog doesn't say — its description doesn't cover that.")


# ---------------------------------------------------------------------------------------------------
# the question set (eval/product-questions): {"product", "question", "expect", "contains"} per line
# ---------------------------------------------------------------------------------------------------
def correct(expected: dict, got: Answer) -> bool:
    """Right when the verdict is the expected one and the answer quotes every expected fact."""
    text = got.text.lower()
    return got.verdict == expected["expect"] and all(c.lower() in text for c in expected.get("contains", ()))


def score(questions: Sequence[dict], products: dict[str, dict]) -> tuple[float, list[tuple[dict, Answer]]]:
    """(share answered right, the wrong ones with their answers)."""
    wrong = []
    for q in questions:
        got = answer(q["question"], products[q["product"]])
        if not correct(q, got):
            wrong.append((q, got))
    return (1 - len(wrong) / len(questions) if questions else 0.0), wrong
