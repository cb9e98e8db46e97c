"""What the shopper sees of products, as HTML: the result grid of cards, the product page (large photo,
price, description, attributes, sizes, actions), the side-by-side comparison, the "try a photo" strip and
the shopper's own turns in the chat. Pure functions of product dicts; photos are URLs (`photos.photo_url`).
Every text from the catalog or the shopper is escaped."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence

from ..chat import pretty_reason
from ..errors import InputError
from ..session import SORTS, Constraints, discount, rupees
from ..tryon import can_try_on
from .photos import photo_data_uri, photo_url

_SVG = ('<svg viewBox="0 0 24 24" width="{size}" height="{size}" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{path}</svg>')
LINK = _SVG.format(size=14, path='<path d="M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71"/>'
                                  '<path d="M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71"/>')
BAG = _SVG.format(size=30, path='<path d="M6 2L3 6v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6l-3-4z"/>'
                                '<line x1="3" y1="6" x2="21" y2="6"/>'
                                '<path d="M16 10a4 4 0 0 1-8 0"/>')
EMPTY_GRID = """<div class="sa-empty"><div class="sa-empty-icon">{BAG}</div>
<div class="sa-empty-title">Your finds will show up here</div>
<div class="sa-empty-text">Describe what you want, drop in a photo, or tap the mic — in English or 中文.</div>
</div>""".replace("{BAG}", BAG)
e = html.escape


def _price_html(p: dict) -> str:
    sale, price = p.get("sale_price"), p.get("price")
    if sale is None:
        return '<span class="sa-sale">Price on request</span>'
    out = f'<span class="sa-sale">{rupees(sale)}</span>'
    if price is not None and sale < price:
        out += f' <span class="sa-was">{rupees(price)}</span> <span class="sa-pct">{discount(p)}% off</span>'
    return out


def _keep(p: dict) -> str:
    """What the shortlist keeps of a product in the shopper's browser (id, title, price, photo URL)."""
    return (f'data-id="{e(p["id"])}" data-title="{e(p["title"])}" data-brand="{e(p.get("brand") or "")}" '
            f'data-sale="{p["sale_price"] if p.get("sale_price") is not None else ""}" '
            f'data-img="{e(photo_url(p["id"], p.get("image", ""), "thumb"))}"')


def card_html(p: dict, n: int, liked: bool = False, disliked: bool = False) -> str:
    """One product card: photo, brand, title, price (sale + discount), why it matched, actions (their icons
    come from the style sheet; the shortlist reads the card's own fields). The photo and title open the
    product page. Lean: a grid of 12 travels on every turn."""
    why = " · ".join(pretty_reason(r) for r in p.get("reasons") or ())
    off = discount(p)
    state = " sa-liked" if liked else (" sa-disliked" if disliked else "")
    price = p["sale_price"] if p.get("sale_price") is not None else ""
    return (
        f"<div class='sa-card{state}' data-id='{e(p['id'])}' data-price='{price}' data-type='{e(p.get('article_type', ''))}'"
        f" data-colour='{e(p.get('base_colour', ''))}' data-gender='{e(p.get('gender', ''))}'"
        f" data-brand='{e(p.get('brand', ''))}'>"
        f"<button class='sa-img' data-open aria-label='Open #{n}'><img loading='lazy' "
        f"src='{e(photo_url(p['id'], p.get('image', '')))}' alt='{e(p['title'])}'><span class='sa-num'>#{n}</span>"
        + (f"<span class='sa-off'>−{off}%</span>" if off else "") + "</button>"
        f"<div class='sa-body'><div class='sa-brand'>{e(p.get('brand') or '')}</div>"
        f"<a class='sa-title' href='#' data-open>{e(p['title'])}</a><div class='sa-price'>{_price_html(p)}</div>"
        + (f"<div class='sa-why'>✓ {e(why)}</div>" if why else "")
        + f"<div class='sa-actions'><button class='sa-btn sa-like{' sa-on' if liked else ''}' data-action='like' "
        f"aria-label='Like #{n}'></button><button class='sa-btn sa-dislike{' sa-on' if disliked else ''}' "
        f"data-action='dislike' aria-label='Dislike #{n}'></button><button class='sa-btn sa-keep' data-shortlist "
        f"aria-label='Shortlist #{n}'></button><button class='sa-btn sa-similar' data-action='similar'>Similar</button>"
        + ("<button class='sa-btn sa-tryon' data-action='tryon'>Try it on</button>" if can_try_on(p) else "")
        + "</div></div></div>")


def fitting_html(picture: str = "", product: dict | None = None, note: str = "") -> str:
    """The fitting room's view: the shopper wearing the product (`picture`, an inline image URI) with its
    name and price, or a note (what to do next, or why a photo or product cannot be used)."""
    head = ""
    if product:
        head = (f'<div class="sa-fit-name"><b>{e(product.get("brand") or "")}</b> {e(product.get("title", ""))}'
                f' <span class="sa-price">{_price_html(product)}</span></div>')
    title = e((product or {}).get("title", ""))
    body = f'<img class="sa-fit-img" src="{e(picture)}" alt="You wearing {title}">' if picture else ""
    return (f'<div class="sa-fit">{head}{body}<p class="sa-note">{e(note)}</p>'
            '<p class="sa-fine">A 2-D preview, not a size or fit prediction. Your photo stays in this session\'s '
            "memory only: it is never saved or logged.</p></div>")


def search_link(query: str) -> str:
    """A link that reopens a search (`?q=…`)."""
    return "?" + urllib.parse.urlencode({"q": query}) if query else ""


def render_cards(products: Sequence[dict], heading: str = "", likes: Sequence[str] = (),
                 dislikes: Sequence[str] = (), link: str = "") -> str:
    """The result grid (or the friendly empty state), with a link to this search when there is one."""
    if not products:
        return EMPTY_GRID
    share = (f' <a class="sa-share" href="{e(search_link(link))}" title="A link that opens this search">{LINK} '
             "Link to this search</a>") if link else ""
    head = f'<div class="sa-head"><span>{e(heading)}</span>{share}</div>' if heading or share else ""
    cards = "".join(card_html(p, i + 1, p["id"] in likes, p["id"] in dislikes) for i, p in enumerate(products))
    return f'{head}<div class="sa-grid">{cards}</div>'


def colours(p: dict) -> str:
    """"Navy Blue / Yellow": its colour and any others the catalog lists ("NA", the catalog's blank, left out)."""
    return " / ".join(c for c in dict.fromkeys([p.get("base_colour", ""), *(p.get("colours") or [])]) if c and c != "NA")


def _description_html(text: str) -> str:
    """The catalog's description: short heading lines ("Wash care") bold, the rest as lines."""
    out = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        heading = len(line) < 28 and not line.endswith(".") and line[:1].isupper() and ":" not in line
        out.append(f'<div class="{"sa-dh" if heading else "sa-dl"}">{e(line)}</div>')
    return "".join(out)


def product_page_html(p: dict) -> str:
    """The product page: large photo, brand, title, price and discount, description, attributes, sizes and
    the actions (similar by look, similar by style, 👍 / 👎, shortlist, ask about it, try a top on, close)."""
    pid = e(p["id"])
    attrs = p.get("attributes") or {}
    facts = {"Colour": colours(p), "For": p.get("gender", ""), "Category": p.get("article_type", ""),
             "Occasion": p.get("usage", ""),
             **{str(k): str(v) for k, v in attrs.items()}}
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts.items() if v)
    sizes = "".join(f'<span class="sa-size">{e(str(s))}</span>' for s in p.get("sizes") or ())
    return (
        f'<div class="sa-page" data-product="{pid}" role="dialog" aria-label="{e(p.get("title", ""))}">'
        '<button class="sa-close" data-close aria-label="Close">✕</button>'
        f'<div class="sa-page-img"><img src="{e(photo_url(p["id"], p.get("image", ""), "page"))}" '
        f'alt="{e(p.get("title", ""))}"></div>'
        f'<div class="sa-page-body"><div class="sa-brand">{e(p.get("brand") or "")}</div>'
        f'<h2 class="sa-page-title">{e(p.get("title", ""))}</h2><div class="sa-price">{_price_html(p)}</div>'
        '<div class="sa-page-actions">'
        f'<button class="sa-btn" data-action="similar" data-id="{pid}">Similar look</button>'
        f'<button class="sa-btn" data-action="style" data-id="{pid}">Similar style</button>'
        f'<button class="sa-btn sa-like" data-action="like" data-id="{pid}" aria-label="Like"></button>'
        f'<button class="sa-btn sa-dislike" data-action="dislike" data-id="{pid}" aria-label="Dislike"></button>'
        f'<button class="sa-btn sa-keep" data-shortlist {_keep(p)}>Shortlist</button>'
        '<button class="sa-btn" data-ask>Ask about it</button>'
        + (f'<button class="sa-btn sa-tryon" data-action="tryon" data-id="{pid}">Try it on</button>' if can_try_on(p) else "")
        + '</div>'
        + (f'<div class="sa-sec">Sizes</div><div class="sa-sizes">{sizes}</div>' if sizes else "")
        + (f'<div class="sa-sec">Details</div><table class="sa-facts">{rows}</table>' if rows else "")
        + (f'<div class="sa-sec">Description</div><div class="sa-desc">{_description_html(p["description"])}</div>'
           if p.get("description") else "")
        + "</div></div>")


def compare_html(products: Sequence[dict]) -> str:
    """2–4 products side by side: photo, title, price, colour, sizes and every attribute any of them has. On a
    phone each row becomes a block: its label across the screen, the products' values beneath it in as many
    narrow columns (`--sa-n`), so nothing is wider than the screen."""
    if not 2 <= len(products) <= 4:
        return '<div class="sa-page"><button class="sa-close" data-close aria-label="Close">✕</button>' \
               '<p class="sa-note">Pick 2 to 4 products of your shortlist to compare.</p></div>'
    keys = list(dict.fromkeys(k for p in products for k in (p.get("attributes") or {})))

    def row(label: str, cells: list[str]) -> str:
        return f"<tr><th>{e(label)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    body = row("", [f'<img src="{e(photo_url(p["id"], p.get("image", ""), "card"))}" alt="{e(p.get("title", ""))}">'
                    for p in products])
    body += row("Product", [f'<b>{e(p.get("brand") or "")}</b><br>{e(p.get("title", ""))}' for p in products])
    body += row("Price", [_price_html(p) for p in products])
    body += row("Colour", [e(colours(p) or "—") for p in products])
    body += row("Sizes", [e(", ".join(map(str, p.get("sizes") or ())) or "—") for p in products])
    for k in keys:
        body += row(k, [e(str((p.get("attributes") or {}).get(k) or "—")) for p in products])
    return ('<div class="sa-page sa-compare" role="dialog" aria-label="Compare">'
            '<button class="sa-close" data-close aria-label="Close">✕</button>'
            f'<h2 class="sa-page-title">Compare {len(products)} products</h2>'
            f'<div class="sa-compare-wrap"><table class="sa-facts sa-compare-table" style="--sa-n:{len(products)}">'
            f'{body}</table></div></div>')


def chip_choices(c: Constraints) -> tuple[list[tuple[str, str]], list[str]]:
    """(choices, ticked) for the chips CheckboxGroup: every active constraint, all ticked."""
    choices = c.chips()
    return choices, [key for _, key in choices]


def sort_choices() -> list[tuple[str, str]]:
    return [(label, key) for key, (label, _) in SORTS.items()]


def photo_strip(examples: Sequence[tuple[str, dict]]) -> str:
    """Clickable catalog photos ("try a photo")."""
    if not examples:
        return ""
    items = "".join(
        f'<button class="sa-ex" data-action="photo" data-id="{e(pid)}" title="{e(str(m.get("title", "")))}">'
        f'<img src="{e(photo_url(pid, str(m.get("image", "")), "thumb"))}" alt="{e(str(m.get("article_type", "")))}">'
        "</button>" for pid, m in examples)
    return f'<div class="sa-strip">{items}</div>'


def user_message(text: str = "", photo: bytes | None = None, photo_src: str = "", voice: str | None = None) -> str:
    """What the shopper sent, as a chat message (their photo as a small inline thumbnail, a catalog photo by its
    URL). Their words are shown as typed: markup in them ("<script>", "<img onerror=…>") is escaped."""
    parts = []
    if voice is not None:
        parts.append(f"🎤 I heard: “{html.escape(voice, quote=False)}”" if voice else "🎤 voice message")
    if text:
        parts.append(html.escape(text, quote=False))
    src = photo_src
    if photo is not None:
        try:
            src = photo_data_uri(photo, 160)
        except InputError:
            src = ""
    if src:
        parts.append(f'<img src="{e(src)}" alt="your photo" class="sa-chat-photo">')
    return "\n\n".join(parts) or "…"
