"""Make a catalog from the public Hugging Face dataset `ashraq/fashion-product-images-small` (or any
parquet file of the same schema): `python -m assistant catalog import-hf --out catalog/fashion`.

Columns → catalog fields: id, productDisplayName → title, gender, masterCategory → category,
subCategory → subcategory, articleType → article_type, baseColour → base_colour, season, year, usage;
the image bytes become images/<id>.jpg. The dataset has no brands or prices, so those stay empty.
Rows are streamed batch by batch (the full dataset is 44k products), and products.jsonl is written
atomically. Downloading needs `huggingface_hub` and a network; a local parquet path works offline.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import CatalogError

DEFAULT_SOURCE = "ashraq/fashion-product-images-small"
TEXT_COLUMNS = {"gender": "gender", "masterCategory": "category", "subCategory": "subcategory",
                "articleType": "article_type", "baseColour": "base_colour", "season": "season", "usage": "usage"}
REQUIRED = ("id", "productDisplayName", "image")


@dataclass
class ImportReport:
    out: Path
    written: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"wrote {self.written} products to {self.out / 'products.jsonl'} (photos in {self.out / 'images'})"
                + (f"; skipped {len(self.problems)} rows" if self.problems else ""))


def parquet_files(source: str, cache_dir: str | None = None) -> list[Path]:
    """A parquet file, a folder of them, or a Hugging Face dataset id (downloaded)."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise CatalogError(f"no .parquet files in {path}")
        return files
    if source.count("/") == 1 and not source.startswith((".", "/", "~")):
        return download(source, cache_dir)
    raise CatalogError(f"no parquet file, folder or Hugging Face dataset id at {source!r}")


def download(repo_id: str, cache_dir: str | None = None) -> list[Path]:
    """The dataset's parquet files from the Hugging Face Hub (cached by huggingface_hub)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CatalogError("downloading needs huggingface_hub (pip install '.[hub]'); or pass a local parquet "
                           "file with --source") from None
    try:
        folder = snapshot_download(repo_id, repo_type="dataset", allow_patterns=["*.parquet", "**/*.parquet"],
                                   cache_dir=cache_dir)
    except Exception as e:  # offline, unknown repo, gated … — all mean "cannot get it from the hub"
        raise CatalogError(f"could not download {repo_id} from the Hugging Face Hub ({type(e).__name__}); "
                           "without internet, pass a local parquet file with --source") from None
    files = sorted(Path(folder).rglob("*.parquet"))
    if not files:
        raise CatalogError(f"the dataset {repo_id} has no parquet files")
    return files


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _year(value: object) -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(str(value))
    except ValueError:
        return _text(value)
    return "" if math.isnan(number) else str(int(number))


def _image_bytes(value: object) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) and len(value) else None


def jpeg(data: bytes) -> bytes:
    """The photo as JPEG bytes (JPEGs are kept as they are); CatalogError if it is not a picture."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "JPEG":
                im.verify()
                return data
            im.load()
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=92)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CatalogError(f"unreadable image ({type(e).__name__})") from None


def convert_row(row: dict, images: Path) -> dict:
    """One dataset row → one catalog row (its photo written to `images`); CatalogError when unusable."""
    raw_id = row.get("id")
    if raw_id is None or (isinstance(raw_id, float) and math.isnan(raw_id)):
        raise CatalogError("missing id")
    pid = str(int(raw_id)) if isinstance(raw_id, (int, float)) else _text(raw_id)
    if not pid or "/" in pid or pid.startswith("."):
        raise CatalogError(f"bad id {raw_id!r}")
    title = _text(row.get("productDisplayName"))
    if not title:
        raise CatalogError(f"id {pid}: missing productDisplayName")
    data = _image_bytes(row.get("image"))
    if data is None:
        raise CatalogError(f"id {pid}: no image bytes")
    try:
        photo = jpeg(data)
    except CatalogError as e:
        raise CatalogError(f"id {pid}: {e}") from None
    (images / f"{pid}.jpg").write_bytes(photo)
    out: dict[str, object] = {"id": pid, "title": title, "currency": "INR"}
    out.update({target: _text(row.get(column)) for column, target in TEXT_COLUMNS.items()})
    out["year"] = _year(row.get("year"))
    colour = out["base_colour"]
    out["colours"] = [colour] if colour else []
    out["image"] = f"images/{pid}.jpg"
    return out


def _rows(files: list[Path], batch_size: int) -> Iterator[dict]:
    import pyarrow.parquet as pq

    for file in files:
        pf = pq.ParquetFile(file)
        names = set(pf.schema_arrow.names)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise CatalogError(f"{file.name} is not in the fashion-product-images schema: no {', '.join(missing)} column")
        wanted = [c for c in (*REQUIRED, *TEXT_COLUMNS, "year") if c in names]
        for batch in pf.iter_batches(batch_size=batch_size, columns=wanted):
            yield from batch.to_pylist()


def import_hf(source: str = DEFAULT_SOURCE, out: str | Path = "catalog/fashion", limit: int | None = None,
              cache_dir: str | None = None, batch_size: int = 256) -> ImportReport:
    """Convert the dataset into a catalog folder: products.jsonl + images/<id>.jpg."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise CatalogError("reading parquet needs pyarrow (pip install '.[hub]')") from None
    files = parquet_files(source, cache_dir)
    folder = Path(out)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    report = ImportReport(folder)
    seen: set[str] = set()
    tmp = folder / "products.jsonl.tmp"
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for n, row in enumerate(_rows(files, batch_size), 1):
                if limit is not None and report.written >= limit:
                    break
                try:
                    product = convert_row(row, images)
                except CatalogError as e:
                    report.problems.append(f"row {n}: {e}")
                    continue
                if product["id"] in seen:
                    report.problems.append(f"row {n}: duplicate id {product['id']}")
                    continue
                seen.add(str(product["id"]))
                f.write(json.dumps(product, ensure_ascii=False) + "\n")
                report.written += 1
        tmp.replace(folder / "products.jsonl")
    finally:
        tmp.unlink(missing_ok=True)
    if report.written == 0:
        raise CatalogError(f"no usable products in {source}")
    return report


# -- command line ---------------------------------------------------------------------------------
def cmd_import_hf(args: argparse.Namespace) -> int:
    report = import_hf(args.source, args.out, args.limit)
    for problem in report.problems[:50]:
        print(f"skipped {problem}", file=sys.stderr)
    if len(report.problems) > 50:
        print(f"… and {len(report.problems) - 50} more", file=sys.stderr)
    print(report.summary())
    print(f"next: CATALOG_DIR={args.out} python app.py   (the first start trains and indexes it)")
    return 0


def add_catalog_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `catalog import-hf` to the `python -m assistant` command line."""
    catalog = subparsers.add_parser("catalog", help="make catalogs from public datasets")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)
    h = sub.add_parser("import-hf", help="convert the Hugging Face fashion-product-images dataset into a catalog",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("--out", required=True, help="catalog folder to write (products.jsonl + images/)")
    h.add_argument("--source", default=DEFAULT_SOURCE,
                   help=f"a Hugging Face dataset id or a local parquet file/folder (default {DEFAULT_SOURCE})")
    h.add_argument("--limit", type=int, default=None, help="convert at most this many products")
    h.set_defaults(func=cmd_import_hf)
    return catalog


def main(argv: list[str] | None = None) -> int:
    """`python -m assistant.hf_import import-hf --out DIR` (the same command outside the main CLI)."""
    p = argparse.ArgumentParser(prog="python -m assistant.hf_import")
    sub = p.add_subparsers(dest="command", required=True)
    add_catalog_commands(sub)
    args = p.parse_args(["catalog", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except CatalogError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
