"""Questions about one product ("is it machine washable?", "does it come in M?", "what is it made of?"),
answered only from that product's own catalog data: its description, attributes, sizes, colours, price and
facets. When none of them tells, the answer says so. Pure functions over a product dict (catalog fields);
the chat (`assistant.chat`) decides which product a question is about.

English and Chinese: one question model reads English words, a Chinese question is first put in them
("第二个有M码吗" → "is it size m", resources/questions_zh.json), and the answer is worded in the question's
language (`WORDINGS`), quoting the catalog's own (English) words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .config import REPO
from .understanding import CJK, RESOURCES, translate, zh_terms

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
         "water": r"waterproof|water[- ]resist", "polaris": r"polari[sz]", "pocket": r"pocket", "buckl": r"buckle|clasp"}
CARRY = re.compile(r"\b(?:fits?|go|goes)\b(?=\s+(?:in|into|inside)\b)|\b(?:holds?|carry|store|takes?)\b")  # will X fit in it
# the question's form, not what it is about ("how high is the heel?", "what kind of buckle …")
FORM_WORDS = frozenset(["high", "long", "big", "large", "wide", "tall", "deep", "kind", "type", "sort"])
CLOSURES = {"lac": r"\blac(?:e|es|ing|ed)\b|lace-up", "velcro": r"velcro", "zip": r"\bzip", "buckle": r"buckle",
            "button": r"\bbutton", "slip-on": r"slip-on", "stud": r"press stud", "hook": r"\bhook"}
CARE = re.compile(r"wash|\biron|bleach|dry clean|tumble|dry in shade|dry flat|line dry|drip dry|wring|soak|wipe|"
                  r"detergent|dry inside|flat dry|dryclean", re.I)
_MATERIALS_WORDS = """cotton polyester leather wool woollen silk linen denim synthetic nylon rubber canvas suede viscose
rayon spandex lycra elastane acrylic jute mesh metal steel stainless plastic fleece satin chiffon georgette crepe
velvet tpr eva pu phylon knit jersey modal khadi brass alloy glass"""
MATERIALS = frozenset(_MATERIALS_WORDS.split())
FAKE = re.compile(r"\b(?:synthetic|faux|imitation|artificial|pu|vegan|fake|man-made)[\s-]+$")  # not the real thing
HEADINGS = re.compile(r"^(?:wash ?care|care|shoe care|sandal care|care instructions|composition|fitting|fit|material|"
                      r"upper|midsole|outsole|model statistics|features|warranty|dimensions|length|measurements?)\s*:?$",
                      re.I)
MEASURE_HEADS = ("dimensions", "length", "measurement", "measurements")


@dataclass(frozen=True)
class Answer:
    """What the catalog says: `verdict` yes / no / info (a fact, not a yes-no), or unknown (it doesn't say);
    `text` is the sentence for the shopper, quoting the product's own words."""

    verdict: str
    text: str


@dataclass(frozen=True)
class Said:
    """What a topic found, before it is put in words: the verdict, which sentence says it (a key of
    `WORDINGS`) and the facts that sentence quotes (the product's own words)."""

    verdict: str
    key: str
    facts: dict[str, str] = field(default_factory=dict)


def said(verdict: str, key: str, **facts: str) -> Said:
    return Said(verdict, key, facts)


# The sentences, per language. A fact whose `{name}.{value}` is a key here is said in the language too.
WORDINGS: dict[str, dict[str, str]] = {
    "en": {
        "care_careful": "Yes, with care — the label says {found}.",
        "care_yes": "Yes — the care label says {found}.",
        "care_no": "No — the care label says {found}.",
        "care_unsaid": "The catalog doesn't say whether it can be {can}. Its care notes: {found}.",
        "care_unsaid_bare": "The catalog doesn't say whether it can be {can}: it has no care instructions.",
        "care": "Care: {found}.",
        "care_none": "The catalog doesn't give care instructions for this one.",
        "can.machine": "machine washed", "can.hand": "hand washed", "can.dry_clean": "dry cleaned",
        "can.tumble": "tumble dried", "can.bleach": "bleached", "can.iron": "ironed", "can.wash": "washed",
        "material_none": "The catalog doesn't say what it is made of.",
        "material_yes": "Yes — {found}.",
        "material_no": "Not as far as the catalog says: {found}.",
        "material": "It's made of: {found}.",
        "colour_none": "The catalog doesn't give its colour.",
        "colour_yes": "Yes — it's {listed}.",
        "colour_no": "No — it's {listed}; the catalog lists no other colour for it.",
        "colour": "It's {listed}.",
        "size_none": "The catalog doesn't list its sizes.",
        "sizes": "Sizes: {sizes}.",
        "size_yes": "Yes — it comes in {wanted} (sizes: {sizes}).",
        "size_one": "It comes in one size only ({free}).",
        "size_no": "No — the sizes listed are {sizes}.",
        "attribute": "{facts}.",
        "attribute_yes": "Yes — {facts}.",
        "attribute_no": "No — {facts}.",
        "measures": "Its measurements: {found}.",
        "measures_none": "The catalog doesn't give its measurements.",
        "price_none": "The catalog doesn't give its price.",
        "price_down": "₹{now}, down from ₹{was} ({pct}% off).",
        "price_sale": "Yes — ₹{now}, down from ₹{was} ({pct}% off).",
        "price": "₹{now}.",
        "price_full": "No discount — ₹{now}.",
        "who_yes": "Yes — it's listed for {gender}.",
        "who_no": "No — it's listed for {gender}.",
        "brand": "It's by {brand}.",
        "brand_none": "The catalog doesn't name its brand.",
        "has_other": "No — the description says {found}.",
        "has_unsaid": "The catalog doesn't say ({asked} isn't mentioned for this product).",
        "has_yes": "Yes — the description says {found}.",
        "has_no": "No — the description says {found}.",
        "described": "The description says {found}.",
        "unsaid": "The catalog doesn't say — its description doesn't cover that.",
    },
}


WORDINGS["zh"] = {
    "care_careful": "可以，但要小心——洗涤说明写着：{found}。",
    "care_yes": "可以——洗涤说明写着：{found}。",
    "care_no": "不可以——洗涤说明写着：{found}。",
    "care_unsaid": "目录里没有写能不能{can}。它的洗涤说明：{found}。",
    "care_unsaid_bare": "目录里没有写能不能{can}：没有洗涤说明。",
    "care": "目录上的洗涤说明：{found}。",
    "care_none": "目录里没有写这件的洗涤说明。",
    "can.machine": "机洗", "can.hand": "手洗", "can.dry_clean": "干洗", "can.tumble": "烘干", "can.bleach": "漂白",
    "can.iron": "熨烫", "can.wash": "水洗",
    "material_none": "目录里没有写它是什么材质。",
    "material_yes": "是的——目录上写着：{found}。",
    "material_no": "目录上没有这么写：{found}。",
    "material": "目录上写着：{found}。",
    "colour_none": "目录里没有写它的颜色。",
    "colour_yes": "有——它是 {listed}。",
    "colour_no": "没有——它是 {listed}，目录里没有列出别的颜色。",
    "colour": "颜色：{listed}。",
    "size_none": "目录里没有列出它的尺码。",
    "sizes": "尺码：{sizes}。",
    "size_yes": "有——有 {wanted}（尺码：{sizes}）。",
    "size_one": "只有一个尺码（{free}）。",
    "size_no": "没有——目录列出的尺码是 {sizes}。",
    "attribute": "目录上写着：{facts}。",
    "attribute_yes": "是的——目录上写着：{facts}。",
    "attribute_no": "不是——目录上写着：{facts}。",
    "measures": "尺寸：{found}。",
    "measures_none": "目录里没有写它的尺寸。",
    "price_none": "目录里没有写它的价格。",
    "price_down": "现价 ₹{now}，原价 ₹{was}（优惠 {pct}%）。",
    "price_sale": "有——现价 ₹{now}，原价 ₹{was}（优惠 {pct}%）。",
    "price": "价格：₹{now}。",
    "price_full": "没有折扣——₹{now}。",
    "who_yes": "是的——目录上标注为 {gender}。",
    "who_no": "不是——目录上标注为 {gender}。",
    "brand": "品牌是 {brand}。",
    "brand_none": "目录里没有写它的品牌。",
    "has_other": "没有——描述里写的是：{found}。",
    "has_unsaid": "目录里没有写——这件商品的描述没有提到这一点。",
    "has_yes": "是的——描述里写着：{found}。",
    "has_no": "没有——描述里写着：{found}。",
    "described": "描述里写着：{found}。",
    "unsaid": "目录里没有写——它的描述没有涉及这一点。",
}


def word(s: Said, language: str = "en") -> Answer:
    """`s` as a sentence in `language` (English when the language has no wording for it)."""
    table = WORDINGS.get(language, WORDINGS["en"])
    facts = {k: table.get(f"{k}.{v}", v) for k, v in s.facts.items()}
    return Answer(s.verdict, table.get(s.key, WORDINGS["en"][s.key]).format(**facts))


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
    return re.sub(r"Y(?:EARS)?$", "YRS", v) if re.fullmatch(r"\d+Y(?:EARS)?", v) else v


# ---------------------------------------------------------------------------------------------------
# topics: each reads the question and, when it is about its topic, answers it
# ---------------------------------------------------------------------------------------------------
def _care(q: str, p: dict) -> Said | None:
    if not re.search(r"wash|laundr|clean|\biron|bleach|tumble|care|dryer|\bdry\b", q):
        return None
    care = care_lines(p)
    checks: list[tuple[str, str, str]] = [  # (asked, what the label says, what: a `can.` wording)
        (r"machine[- ]?wash|washing machine|put it in the wash", r"ma[cs]hine(?:[- ]?|\s*(?:/|or)\s*hand[- ]?)wash",
         "machine"),
        (r"hand[- ]?wash", r"hand[- ]?wash", "hand"),
        (r"dry[- ]?clean", r"dry[- ]?clean", "dry_clean"),
        (r"tumble|dryer", r"tumble", "tumble"),
        (r"bleach", r"bleach", "bleach"),
        (r"\biron", r"\biron", "iron"),
        (r"^(?:is|are|can|could|may|should|will|do|does)\b.*\bwash", r"\bwash", "wash"),  # washed at all
    ]
    for asked, label, what in checks:
        if not re.search(asked, q):
            continue
        hits = [ln for ln in care if re.search(label, ln, re.I)]
        if hits:
            no = [ln for ln in hits if NEGATION.search(ln.split(re.search(label, ln, re.I).group(0))[0])]  # type: ignore[union-attr]
            if what == "machine" and not no and any(re.search(r"\bonly\b", ln, re.I) for ln in hits
                                                     if re.search(r"hand", ln, re.I)):
                no = hits
            verdict = NO if no and len(no) == len(hits) else YES
            if verdict == YES and what == "iron" and no:
                return said(YES, "care_careful", found=quote(hits))
            return said(verdict, "care_no" if verdict == NO else "care_yes", found=quote(hits))
        if what == "machine":
            only = [ln for ln in care if re.search(r"hand[- ]?wash|dry[- ]?clean only", ln, re.I)]
            if only:
                return said(NO, "care_no", found=quote(only))
        if care:
            return said(UNKNOWN, "care_unsaid", can=what, found=quote(care))
        return said(UNKNOWN, "care_unsaid_bare", can=what)
    if care:
        return said(INFO, "care", found=quote(care, 5))
    return said(UNKNOWN, "care_none")


def part_lines(q: str, p: dict) -> list[str]:
    """"What is the sole made of?", "is the strap leather?": the lines and attributes naming both the part asked
    about and a material ("TPR outsole with …", "Leather straps with a tang clasp")."""
    parts = [stem(w) for w in words(q) if w not in STOP and w not in MATERIALS and len(w) > 2
             and not re.search(r"\d|^(?:made|material|fabric|composition|real|genuine|pure|kind|type)$", w)]
    if not parts:
        return []
    text = [ln for ln in lines(p) if not HEADINGS.match(ln)] + [f"{k}: {v}" for k, v in attributes(p).items()]
    return [ln for ln in text if any(part in ln.lower() for part in parts) and set(words(ln)) & MATERIALS]


def _material(q: str, p: dict) -> Said | None:
    named = [m for m in MATERIALS if re.search(rf"\b{m}\b", q)]
    if not (named or re.search(r"made (?:of|from|out of)|material|fabric|composition|what.{0,12}\bmade\b", q)):
        return None
    found = part_lines(q, p) or material_lines(p)
    if not found:
        return said(UNKNOWN, "material_none")
    if named:
        text = " ".join(found).lower()
        hit = [m for m in named if any(not FAKE.search(text[: h.start()]) and not h.group(0).endswith("ette")
                                       for h in re.finditer(rf"\b{m}\w*", text))]
        if hit:
            return said(YES, "material_yes", found=quote(found))
        return said(NO, "material_no", found=quote(found))
    return said(INFO, "material", found=quote(found))


def _asked_colour(q: str) -> list[str]:
    return [c for c in COLOURS if re.search(rf"\b{c}\b", q)]


def _colour(q: str, p: dict) -> Said | None:
    asked = _asked_colour(q)
    if not (asked or re.search(r"colou?rs?\b|shades?\b", q)):
        return None
    have = list(dict.fromkeys([str(p.get("base_colour") or ""), *(p.get("colours") or [])]))
    have = [c for c in have if c and c.upper() != "NA"]
    if not have:
        return said(UNKNOWN, "colour_none")
    listed = " / ".join(have)
    if asked:
        match = [c for c in have if any(a.replace("gray", "grey") in c.lower() for a in asked)]
        if match:
            return said(YES, "colour_yes", listed=listed)
        return said(NO, "colour_no", listed=listed)
    return said(INFO, "colour", listed=listed)


def _size(q: str, p: dict) -> Said | None:
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
        return said(UNKNOWN, "size_none")
    if not wanted:
        return said(INFO, "sizes", sizes=", ".join(sizes))
    free = [s for s in sizes if re.search(r"free|one ?size", s, re.I)]
    if any(norm_size(wanted) in {norm_size(part) for part in s.split("/")} for s in sizes):
        return said(YES, "size_yes", wanted=wanted.upper(), sizes=", ".join(sizes))
    if free:
        return said(INFO, "size_one", free=", ".join(free))
    return said(NO, "size_no", sizes=", ".join(sizes))


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


def _attribute(q: str, p: dict) -> Said | None:
    """A question naming one of the product's own attributes ("how high is the heel?", "is it slim fit?"). What it
    is made of and how to care for it are the material and care topics' (they read the description too)."""
    attrs = {k.lower(): (k, v) for k, v in attributes(p).items() if not OWN_TOPIC.search(k)}
    ws = words(q)
    keys = [k for w in ws for k in ATTRIBUTE_WORDS.get(w, ()) if k in attrs]
    keys += [k for k in attrs if k not in keys and len(k) > 3 and re.search(rf"\b{re.escape(k)}\b", q)]
    keys = list(dict.fromkeys(keys))
    if not keys:
        return None
    facts = [f"{attrs[k][0]}: {attrs[k][1]}" for k in keys[:3]]
    if not re.match(r"(?:is|are|does|do|has|have|can|will|was|would)\b", q):
        return said(INFO, "attribute", facts="; ".join(facts))
    values = " ".join(attrs[k][1] for k in keys).lower()
    key_words = {w for k in keys for w in words(k)} | {"sleeve", "sleeves", "sleeved", "fit", "type", "height"}
    vocabulary = {w for _, v in attrs.values() for w in words(v)} | set(ATTRIBUTE_WORDS) | set(VALUE_WORDS)
    content = [w for w in ws if w not in STOP and w not in key_words and len(w) > 2 and w in vocabulary
               and (w not in ATTRIBUTE_WORDS or w in VALUE_WORDS)]
    if not content:  # "is it see-through?": settled by whether the value denies it (Opaque, No, Non-…); else
        asked = [PROPERTIES[w] for w in ws if PROPERTIES.get(w) in attrs]  # ("are the lenses polarised?") not here
        if not asked:
            return None
        key, value = attrs[asked[0]]
        return said(NO, "attribute_no", facts=f"{key}: {value}") if DENIES.search(value) else \
            said(YES, "attribute_yes", facts=f"{key}: {value}")
    if all(re.search(rf"\b{re.escape(stem(w))}", values) for w in content):
        return said(YES, "attribute_yes", facts="; ".join(facts))
    return said(NO, "attribute_no", facts="; ".join(facts))


# words naming a property an attribute is, yes or no (its value says which: "Opaque", "Water Resistant", "No")
PROPERTIES = {"see-through": "transparency", "transparent": "transparency", "sheer": "transparency",
              "waterproof": "water resistance", "resistant": "water resistance", "stretch": "stretch"}
DENIES = re.compile(r"^(?:no|non|not|opaque)\b|\w+less\b", re.I)
OWN_TOPIC = re.compile(r"^(?:fabric|material|composition|wash care)$", re.I)  # attributes another topic answers
ATTRIBUTE_KEYS = tuple(dict.fromkeys(k for keys in ATTRIBUTE_WORDS.values() for k in keys))
VALUE_WORDS = ("full", "half", "short", "long", "round", "v-neck", "high", "low", "mid", "flat", "slim", "regular",
               "printed", "solid", "striped", "checked", "casual", "formal", "party", "sports", "ethnic", "digital",
               "analog", "analogue", "quartz", "velcro", "laces", "lace-up", "slip-on", "zip", "loose", "relaxed", "skinny")


def stem(word: str) -> str:
    """"laces" / "lacing" → "lac", "pockets" → "pocket", "stretchy" → "stretch": enough to find a word's kin."""
    for suffix in ("ing", "es", "ed", "s", "y", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _dimensions(q: str, p: dict) -> Said | None:
    """"How big is it?": its measurements (lines giving sizes in numbers, and the sections headed so). "How long
    are the sleeves?" or "how long is the warranty?" ask about a detail: other topics answer them."""
    if not re.search(r"how (?:big|large|tall|wide|long|deep)|dimensions?|measurements?|\bcase diameter", q):
        return None
    if any(w in ATTRIBUTE_WORDS for w in words(q) if w not in ("long", "short", "length")):
        return None
    found = [ln for head, body in sections(p).items() if head != "model statistics" for ln in body
             if head in MEASURE_HEADS or (DIMENSION.search(ln) and not re.search(r"model|height-|waist-", ln, re.I))]
    if found:
        return said(INFO, "measures", found=quote(found, 4))
    return said(UNKNOWN, "measures_none")


def _price(q: str, p: dict) -> Said | None:
    if not re.search(r"how much|price|cost|discount|\bsale\b|\boff\b|offer|cheap|expensive", q):
        return None
    sale, price = p.get("sale_price"), p.get("price")
    sale = sale if isinstance(sale, (int, float)) and sale >= 0 else None
    price = price if isinstance(price, (int, float)) and price >= 0 else None
    if sale is None and price is None:
        return said(UNKNOWN, "price_none")
    now = sale if sale is not None else price
    if price and now is not None and now < price:
        pct = round((price - now) / price * 100)
        if re.search(r"discount|sale|offer|\boff\b", q):
            return said(YES, "price_sale", now=f"{now:,.0f}", was=f"{price:,.0f}", pct=str(pct))
        return said(INFO, "price_down", now=f"{now:,.0f}", was=f"{price:,.0f}", pct=str(pct))
    if re.search(r"discount|sale|offer|\boff\b", q):
        return said(NO, "price_full", now=f"{now:,.0f}")
    return said(INFO, "price", now=f"{now:,.0f}")


def _who(q: str, p: dict) -> Said | None:
    m = re.search(r"\bfor (men|women|boys|girls|kids|children|unisex|a man|a woman|him|her)\b|\bunisex\b", q)
    if not m or not p.get("gender"):
        return None
    gender = str(p["gender"])
    asked = (m.group(1) or "unisex").replace("a man", "men").replace("a woman", "women").replace("him", "men")
    asked = asked.replace("her", "women").replace("children", "kids")
    ok = asked.rstrip("s") in gender.lower() or gender == "Unisex" or (asked == "kids" and gender in ("Boys", "Girls"))
    return said(YES, "who_yes", gender=gender) if ok else said(NO, "who_no", gender=gender)


def _brand(q: str, p: dict) -> Said | None:
    if not re.search(r"\bbrand\b|who makes|made by|manufacturer", q):
        return None
    return said(INFO, "brand", brand=str(p["brand"])) if p.get("brand") else said(UNKNOWN, "brand_none")


def like(word: str) -> str:
    """A pattern finding a question's word in the catalog's lines, its kin ("stretchy" → spandex) included."""
    return ALIKE.get(stem(word)) or ALIKE.get(word) or rf"\b{re.escape(stem(word))}"


def _has(q: str, p: dict) -> Said | None:
    """"Does it have pockets?", "is it stretchy?", "do they have laces?": the product's own lines about it."""
    if not re.match(r"(?:does|do|has|have|is|are|can|will)\b", q):
        return None
    asked = [w for w in words(CARRY.sub(" ", q)) if w not in STOP and len(w) > 2]
    if not asked:
        return None
    patterns = [like(w) for w in asked]
    text = [ln for ln in lines(p) if not HEADINGS.match(ln)] + [f"{k}: {v}" for k, v in attributes(p).items()]
    found = [ln for ln in text if all(re.search(pat, ln, re.I) for pat in patterns)]
    if not found:
        closure = next((c for w in asked for c in CLOSURES.values() if re.search(c, w)), None)
        other = [ln for ln in text for c in CLOSURES.values() if c != closure and re.search(c, ln, re.I)] if closure else []
        if other:
            return said(NO, "has_other", found=quote(list(dict.fromkeys(other)), 2))
        return said(UNKNOWN, "has_unsaid", asked=" ".join(asked))
    lacking = [rf"\b{re.escape(stem(w))}\w*less\b" for w in asked]  # "sleeveless" answers "does it have sleeves?"
    if all(NEGATION.search(ln) or any(re.search(pat, ln, re.I) for pat in lacking) for ln in found):
        return said(NO, "has_no", found=quote(found, 2))
    return said(YES, "has_yes", found=quote(found, 2))


def _described(q: str, p: dict) -> Said | None:
    """"How high is the heel?" and other open questions: the description's lines sharing the most words with it."""
    if not re.match(r"(?:what|how|which|where|tell me)\b", q):
        return None
    asked = {like(w) for w in words(q) if w not in STOP and w not in FORM_WORDS and len(w) > 2}
    scored = [(sum(bool(re.search(pat, ln, re.I)) for pat in asked), n, ln)
              for n, ln in enumerate(ln for ln in lines(p) if not HEADINGS.match(ln))]
    best = max((score for score, _, _ in scored), default=0)
    if not best:
        return None
    return said(INFO, "described", found=quote([ln for score, _, ln in scored if score == best], 2))


TOPICS: tuple[Callable[[str, dict], Said | None], ...] = (_care, _dimensions, _size, _attribute, _colour, _material,
                                                            _price, _who, _brand)


# ---------------------------------------------------------------------------------------------------
# what a message is: a question about a product, in English or Chinese
# ---------------------------------------------------------------------------------------------------
_ZH_ONE = r"它(?!们)|[这那](?:个|件|款|双|条|只|顶|副|块|套|枚|对|支)"
# one product ("they" may be the cards on screen, or a pair)
SINGULAR = re.compile(rf"\b(?:it|its|it's|this|that)\b|{_ZH_ONE}")


@dataclass(frozen=True)
class Reading:
    """How a language marks a question about a product: it asks (a question), it points at a product (it,
    this, #3, 第二个) and it does not ask for other products instead (cheaper, similar, 有没有蓝色的)."""

    asks: re.Pattern[str]
    points: re.Pattern[str]
    others: re.Pattern[str]


READINGS = {
    "en": Reading(
        asks=re.compile(r"\?\s*$|^(?:is|are|does|do|can|will|what|which|how|has|have|would|could|tell me)\b"),
        points=re.compile(r"\b(?:it|its|it's|this|that|they|them|these|those)\b|#\s*\d|\b(?:first|second|third|"
                          r"fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|\d+(?:st|nd|rd|th))\b"),
        others=re.compile(r"\b(?:show|find|more like|similar|other|others|cheaper|instead|something)\b")),
    "zh": Reading(
        asks=re.compile(r"[？?吗呢吧]\s*$|什么|啥|哪|多少|几|怎么|怎样|如何|多[大高长宽深重]|是不是|能不能|可不可以|"
                        r"可以不|会不会|有没有"),
        points=re.compile(rf"{_ZH_ONE}|它们|[这那]些|第\s*(?:[一二两三四五六七八九十]+|\d+)|最后一|#\s*\d"),
        # "有没有蓝色的" (is there a blue one): like "do you have blue ones", a request for other products
        others=re.compile(r"便宜|更贵|贵一?[点些]|别的|其他|其它|类似|相似|一样的|换一?[个件款双条]|推荐|看看|找|给我|"
                          r"再来|有没有[^，。？?]*的[吗呢]?[？?]?\s*$")),
}
ZH_OPEN = re.compile(r"什么|啥|哪|多少|几|怎么|怎样|如何|多[大高长宽深重]")  # an open question, not a yes-no one
ZH_POINTER = re.compile(rf"{_ZH_ONE}|它们|[这那]些|第\s*(?:[一二两三四五六七八九十]+|\d+)\s*[个件款双条只顶副块套]?|"
                        r"最后一[个件款双条只]?|#\s*\d+")
ZH_SIZE = re.compile(r"(?<![a-z\d.])((?:uk|eu|euro|us)\s*\d{1,2}(?:\.\d)?|\d{1,2}(?:\.\d)?(?=\s*[码号])|xxs|xs|s|m|l|xl|xxl|"
                     r"xxxl|[2-5]xl)\s*[码号]?(?![a-z\d%.])")
ZH_AGE = re.compile(r"(\d{1,2})\s*(个月|岁|周岁)")
WHO = ("men", "women", "boys", "girls", "kids")


def language(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


@lru_cache(maxsize=1)
def zh_question_terms() -> dict[str, str]:
    """Chinese words of questions → the English words the topics read: resources/questions_zh.json, plus the
    request lexicon's colours and who it's for ("蓝色" → blue, "女款" → for women)."""
    terms = {zh: en for zh, en in zh_terms().items() if set(en.split()) <= COLOURS}
    terms |= {zh: en if en == "unisex" else f"for {en}" for zh, en in zh_terms().items() if en in (*WHO, "unisex")}
    own = json.loads((RESOURCES / "questions_zh.json").read_text(encoding="utf-8"))["terms"]
    return terms | own


def english(question: str) -> str:
    """A question in the words the topics read: English as it is (lowercased); Chinese put in English words,
    an open question as "what …", a yes-no one as "is it …" ("第二个有M码吗" → "is it size m", "它是什么材质的"
    → "what material")."""
    q = re.sub(r"\s+", " ", question.lower().replace("’", "'")).strip()
    if language(q) != "zh":
        return q
    text = ZH_POINTER.sub(" ", q)
    text = ZH_AGE.sub(lambda m: f" size {m.group(1)}{'m' if m.group(2) == '个月' else 'y'} ", text)
    text = translate(ZH_SIZE.sub(r" size \1 ", text), zh_question_terms())
    text = re.sub(r"[^\x00-\x7f₹]+", " ", text)  # characters no entry turned into English words: dropped
    return re.sub(r"\s+", " ", f"{'what' if ZH_OPEN.search(q) else 'is it'} {text}").strip()


def about(question: str) -> bool:
    """Whether a message asks about one product's details ("is #3 machine washable?", "what is it made of?",
    "第三个可以机洗吗？") rather than for other products ("do you have blue ones?", "show me something cheaper",
    "有没有便宜一点的"): a question that points at a product (it, this, #3, the second one, 这件, 第二个) and
    asks about one of its details."""
    q = question.lower().strip()
    reading = READINGS[language(q)]
    if not reading.asks.search(q) or not reading.points.search(q) or reading.others.search(q):
        return False
    q = english(question)
    probe = {"description": "", "attributes": dict.fromkeys(ATTRIBUTE_KEYS, "-"), "sizes": ["M"], "colours": ["Blue"],
             "base_colour": "Blue", "price": 1.0, "sale_price": 1.0, "gender": "Men", "brand": "B"}
    yes_no = re.match(r"(?:is|are|does|do|has|have|can|will)\b", q)
    return any(topic(q, probe) is not None for topic in TOPICS) or bool(yes_no)


def answer(question: str, product: dict) -> Answer:
    """The answer to a question about `product` (catalog fields: description, attributes, sizes, colours,
    price, gender …), from that product's own data only, in the question's language."""
    q = english(question)
    found = next((s for s in (topic(q, product) for topic in TOPICS) if s is not None), None)
    return word(found or _has(q, product) or _described(q, product) or said(UNKNOWN, "unsaid"), language(question))


# ---------------------------------------------------------------------------------------------------
# the question sets: {"product", "question", "expect", "contains"} per line
# ---------------------------------------------------------------------------------------------------
QUESTION_SETS = (REPO / "eval" / "product-questions" / "questions.jsonl",  # dev: misses fixed on it
                 REPO / "eval" / "product-questions-heldout" / "questions.jsonl")  # held out: other products
def correct(expected: dict, got: Answer) -> bool:
    """Right when the verdict is the expected one, the answer quotes every expected fact and it is in the
    question's language."""
    text = got.text.lower()
    return got.verdict == expected["expect"] and all(c.lower() in text for c in expected.get("contains", ())) \
        and language(got.text) == language(expected["question"])


def score(questions: Sequence[dict], products: dict[str, dict]) -> tuple[float, list[tuple[dict, Answer]]]:
    """(share answered right, the wrong ones with their answers)."""
    wrong = []
    for q in questions:
        got = answer(q["question"], products[q["product"]])
        if not correct(q, got):
            wrong.append((q, got))
    return (1 - len(wrong) / len(questions) if questions else 0.0), wrong
