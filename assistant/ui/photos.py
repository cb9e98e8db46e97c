"""Product photos for the browser: each catalog photo is served at the size it is shown (a thumbnail, a
card, the product page) as a resized JPEG at a short URL by product id (`shop/photo/card/<id>.jpg`), with
Cache-Control and an ETag, so a photo seen once is not downloaded again and a result grid carries no image
bytes. Only products in the index are served: no path of the machine can be asked for. The shopper's own
photo is shown back as a small inline thumbnail (never stored)."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.parse
from functools import lru_cache
from pathlib import Path

from ..catalog import decode_image
from ..config import Settings
from ..errors import InputError

SIZES = ("thumb", "card", "page")


def photo_data_uri(data: bytes, side: int = 160) -> str:
    """A shopper's photo as a small inline JPEG (shown in the chat only; the bytes are not kept)."""
    im = decode_image(data)
    im.thumbnail((side, side))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def photo_url(product_id: str, image: str, size: str = "card") -> str:
    """Where the browser gets a product's photo: a remote catalog photo as it is, else our resized copy."""
    if image.startswith(("http://", "https://")):
        return image
    return f"shop/photo/{size}/{urllib.parse.quote(product_id, safe='')}.jpg"


def side_for(size: str, settings: Settings) -> int:
    return {"thumb": settings.photo_thumb_side, "card": settings.photo_card_side, "page": settings.photo_page_side}[size]


@lru_cache(maxsize=1024)
def resized_jpeg(location: str, side: int, stamp: float) -> tuple[bytes, str]:
    """(JPEG bytes, ETag) of a catalog photo fitted within `side` pixels (never enlarged). `stamp` (the file's
    modification time) makes a changed photo a new cache entry."""
    data = Path(location).read_bytes()
    try:
        im = decode_image(data)
    except InputError:
        raise FileNotFoundError(location) from None
    if max(im.size) <= side and data[:3] == b"\xff\xd8\xff":
        out = data  # already a JPEG this small: sent as it is
    else:
        im.thumbnail((side, side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=82, optimize=True)
        out = buf.getvalue()
    return out, '"' + hashlib.sha1(out).hexdigest()[:20] + '"'


def catalog_photo(location: str, size: str, settings: Settings) -> tuple[bytes, str]:
    """The resized photo at `location` (a local catalog file) for a size name; FileNotFoundError if unusable."""
    stamp = Path(location).stat().st_mtime
    return resized_jpeg(location, side_for(size, settings), stamp)
