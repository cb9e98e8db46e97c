"""The catalog format: product schema, JSONL/CSV readers, row validation, content hashes, photo loading."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import InputError

CATALOG_FILES = ("products.jsonl", "products.csv")
TEXT_FIELDS = ("brand", "gender", "category", "subcategory", "article_type", "base_colour",
               "season", "year", "usage", "currency", "description")
LIST_FIELDS = ("colours", "sizes")
FACETS = ("gender", "category", "subcategory", "article_type", "base_colour", "usage", "brand")


class CatalogError(InputError):
    """A catalog (or one of its rows, or a shopper's photo) that cannot be used."""


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    image: str  # resolved: absolute path or http(s) URL
    brand: str = ""
    price: float | None = None
    sale_price: float | None = None
    currency: str = "INR"
    gender: str = ""
    category: str = ""
    subcategory: str = ""
    article_type: str = ""
    base_colour: str = ""
    colours: tuple[str, ...] = ()
    season: str = ""
    year: str = ""
    usage: str = ""
    description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    sizes: tuple[str, ...] = ()

    @property
    def effective_price(self) -> float | None:
        return self.sale_price if self.sale_price is not None else self.price

    def text(self) -> str:
        """The product in words, as the text encoder reads it."""
        attrs = ", ".join(f"{k}: {v}" for k, v in self.attributes.items() if v)
        parts = [self.title, self.short_text(), f"{self.usage} wear" if self.usage else "", attrs]
        return ". ".join(p for p in parts if p)

    def short_text(self) -> str:
        """A shopper-style short view: "men navy blue shirts"."""
        return " ".join(p for p in (self.gender, self.base_colour, self.article_type) if p).lower()

    def metadata(self) -> dict[str, str | float | int]:
        """Flat, filterable fields stored beside the vectors."""
        meta: dict[str, str | float | int] = {f: getattr(self, f) or "" for f in FACETS}
        meta["title"] = self.title
        meta["image"] = self.image
        meta["price"] = float(self.price) if self.price is not None else -1.0
        meta["sale_price"] = float(self.effective_price) if self.effective_price is not None else -1.0
        meta["currency"] = self.currency
        return meta

    def to_row(self) -> dict:
        row = asdict(self)
        row["colours"], row["sizes"] = list(self.colours), list(self.sizes)
        return row


@dataclass(frozen=True)
class RowProblem:
    source: str
    line: int
    product_id: str
    message: str

    def __str__(self) -> str:
        pid = f" (id {self.product_id})" if self.product_id else ""
        return f"{self.source}:{self.line}{pid}: {self.message}"


@dataclass
class Catalog:
    root: Path
    products: list[Product]
    problems: list[RowProblem]
    splits: dict[str, list[str]]
    lines: dict[str, tuple[str, int]] = field(default_factory=dict)  # product id → (file name, line)

    def train_ids(self) -> set[str]:
        ids = {p.id for p in self.products}
        return ids & set(self.splits["train"]) if "train" in self.splits else ids


def catalog_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_file():
        return p
    for name in CATALOG_FILES:
        if (p / name).is_file():
            return p / name
    raise CatalogError(f"no catalog at {p}: expected a products.jsonl or products.csv file "
                       "(see catalog/README.md for the format)")


def _raw_rows(path: Path) -> Iterator[tuple[int, dict | str]]:
    """Yield (line number, row dict) or (line number, error message)."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for row in reader:
                yield reader.line_num, dict(row)
        return
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, f"not valid JSON ({e.msg})"
                continue
            yield (n, row) if isinstance(row, dict) else (n, "not a JSON object")


def _price(value: object, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CatalogError(f"bad {name} {value!r}")
    try:
        out = float(str(value).replace(",", "").strip())
    except ValueError:
        raise CatalogError(f"bad {name} {value!r}: not a number") from None
    if out < 0 or out != out or out in (float("inf"),):
        raise CatalogError(f"bad {name} {value!r}: must be a non-negative number")
    return out


def _list(value: object) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            return tuple(v.strip() for v in text.split("|") if v.strip())
    if not isinstance(value, list):
        raise CatalogError(f"bad list {value!r}")
    return tuple(str(v) for v in value)


def _attributes(value: object) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise CatalogError(f"bad attributes {value!r}: expected key/value pairs")
    return {str(k): str(v) for k, v in value.items()}


def _resolve_image(value: str, base: Path) -> str:
    if value.startswith(("http://", "https://")):
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def _text(row: dict, name: str) -> str:
    """A text field: a string or a number (a year, a numeric id); a list or an object is a mistake."""
    value = row.get(name)
    if isinstance(value, (dict, list, bool)):
        raise CatalogError(f"bad {name} {json.dumps(value, ensure_ascii=False)[:60]}: expected text")
    return str(value if value is not None else "").strip()


def parse_row(row: dict, base: Path) -> Product:
    """Validate one raw row into a Product; raise CatalogError saying what is wrong."""
    pid = _text(row, "id")
    if not pid:
        raise CatalogError("missing id")
    title = _text(row, "title")
    if not title:
        raise CatalogError("missing title")
    image = _text(row, "image")
    if not image:
        raise CatalogError("missing image")
    price = _price(row.get("price"), "price")
    sale = _price(row.get("sale_price"), "sale_price")
    if price is not None and sale is not None and sale > price:
        raise CatalogError(f"sale_price {sale:g} is above price {price:g}")
    try:
        colours, sizes = _list(row.get("colours")), _list(row.get("sizes"))
        attributes = _attributes(row.get("attributes"))
    except (json.JSONDecodeError, CatalogError) as e:
        raise CatalogError(f"bad colours/sizes/attributes: {e}") from None
    text = {f: _text(row, f) for f in TEXT_FIELDS}
    if not text["currency"]:
        text["currency"] = "INR"
    return Product(id=pid, title=title, image=_resolve_image(image, base), price=price,
                   sale_price=sale, colours=colours, sizes=sizes, attributes=attributes, **text)


def read_catalog(path: str | Path) -> Catalog:
    """Read a catalog folder or file. Broken rows are reported (with line numbers) and skipped."""
    file = catalog_file(path)
    base = file.parent
    products: list[Product] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    lines: dict[str, tuple[str, int]] = {}
    for line, row in _raw_rows(file):
        if isinstance(row, str):
            problems.append(RowProblem(file.name, line, "", row))
            continue
        try:
            product = parse_row(row, base)
        except CatalogError as e:
            problems.append(RowProblem(file.name, line, str(row.get("id") or ""), str(e)))
            continue
        if product.id in seen:
            problems.append(RowProblem(file.name, line, product.id, "duplicate id"))
            continue
        if not product.image.startswith("http") and not Path(product.image).is_file():
            problems.append(RowProblem(file.name, line, product.id, f"image not found: {product.image}"))
            continue
        seen.add(product.id)
        products.append(product)
        lines[product.id] = (file.name, line)
    splits_file = base / "splits.json"
    splits = json.loads(splits_file.read_text()) if splits_file.is_file() else {}
    return Catalog(root=base, products=products, problems=problems, splits=splits, lines=lines)


def image_bytes(location: str, timeout: float = 20.0) -> bytes:
    if location.startswith(("http://", "https://")):
        with urllib.request.urlopen(location, timeout=timeout) as r:
            return r.read()
    return Path(location).read_bytes()


def content_hash(*parts: bytes | str) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def product_hash(product: Product, photo_key: str, located: bool = True) -> str:
    """Changes when anything about the product (its fields, or its photo's content hash) changes.
    `located=False` leaves out where the photo lies (only its content counts): the same product in a
    catalog copied or cloned elsewhere has the same hash (what prebuilt vectors are keyed by)."""
    row = product.to_row() if located else {**product.to_row(), "image": ""}
    return content_hash(json.dumps(row, sort_keys=True, ensure_ascii=False), photo_key)


PHOTO_FORMATS = "JPEG, PNG, WebP or GIF"


def _not_a_photo(data: bytes) -> str:
    """Why bytes Pillow cannot identify are not a photo, in words."""
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith((b"<?xml", b"<!doctype svg")) and b"<svg" in head):
        return f"not a readable image: SVG drawings are not supported; please send a photo ({PHOTO_FORMATS})"
    return f"not a readable image: that file is not a photo ({PHOTO_FORMATS})"


def decode_image(data: bytes, max_pixels: int = 40_000_000) -> Image.Image:
    """Bytes to an RGB picture, refusing what is not a usable photo, with a clear message. Pictures over
    `max_pixels` are refused from their header, before anything is decompressed (decompression bombs)."""
    if not data:
        raise CatalogError("the image is empty (0 bytes)")
    Image.MAX_IMAGE_PIXELS = max_pixels
    too_large = f"the image is too large to open safely (over {max_pixels / 1e6:g} megapixels)"
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > max_pixels:
                raise CatalogError(f"the image is too large ({im.width}×{im.height} pixels; the limit is "
                                   f"{max_pixels / 1e6:g} megapixels)")
            im.seek(0)
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = im.point(lambda v: v / 256).convert("L")
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return im.convert("RGB")
    except CatalogError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CatalogError(too_large) from None
    except UnidentifiedImageError:
        raise CatalogError(_not_a_photo(data)) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise CatalogError("not a readable image: the file is damaged or cut short") from None
