"""The catalog format: JSONL and CSV with the same columns, optional fields, relative photos, and every kind of
broken row reported with its line number and skipped while the rest goes in."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import make_photo, write_catalog

from assistant.catalog import CatalogError, Product, catalog_file, decode_image, read_catalog

COLUMNS = ["id", "title", "image", "brand", "price", "sale_price", "currency", "gender", "category", "subcategory",
           "article_type", "base_colour", "colours", "season", "year", "usage", "description", "attributes", "sizes"]


def full_row(pid: str, image: str = "img/a.jpg", **over: object) -> dict:
    row = {"id": pid, "title": f"Roadster Men Navy Blue Shirt {pid}", "image": image, "brand": "Roadster",
           "price": 1299, "sale_price": 999, "currency": "INR", "gender": "Men", "category": "Apparel",
           "subcategory": "Topwear", "article_type": "Shirts", "base_colour": "Navy Blue",
           "colours": ["Navy Blue", "White"], "season": "Fall", "year": "2012", "usage": "Casual",
           "description": "A checked cotton shirt.", "attributes": {"Fit": "Slim Fit", "Pattern": "Checked"},
           "sizes": ["S", "M", "L"]}
    row.update(over)
    return row


def write_jsonl(folder: Path, lines: list[object]) -> Path:
    """Lines are dicts (written as JSON) or raw strings (written as they are)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "products.jsonl").open("w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")
    return folder


def write_csv(folder: Path, rows: list[dict], list_style: str = "json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "products.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            out = {}
            for k in COLUMNS:
                v = r.get(k, "")
                if k in ("colours", "sizes") and isinstance(v, list):
                    v = json.dumps(v) if list_style == "json" else "|".join(v)
                elif k == "attributes" and isinstance(v, dict):
                    v = json.dumps(v)
                out[k] = v
            w.writerow(out)
    return folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A catalog folder with two photos under img/."""
    folder = tmp_path / "cat"
    make_photo(folder / "img" / "a.jpg")
    make_photo(folder / "img" / "b.png", colour=(20, 20, 160))
    return folder


def test_jsonl_and_csv_give_the_same_products(photos: Path, tmp_path: Path) -> None:
    rows = [full_row("1"), full_row("2", image="img/b.png", sale_price=None, colours=["Red"], sizes=[]),
            {"id": "3", "title": "Plain Tee", "image": "img/a.jpg"}]
    from_jsonl = read_catalog(write_jsonl(photos, rows))
    csv_folder = tmp_path / "csvcat"
    (csv_folder).mkdir()
    (csv_folder / "img").symlink_to(photos / "img")
    for style in ("json", "pipe"):
        from_csv = read_catalog(write_csv(csv_folder, rows, list_style=style))
        assert not from_csv.problems and not from_jsonl.problems
        assert [_comparable(p) for p in from_csv.products] == [_comparable(p) for p in from_jsonl.products]
    first = from_jsonl.products[0]
    assert first.colours == ("Navy Blue", "White") and first.sizes == ("S", "M", "L")
    assert first.attributes == {"Fit": "Slim Fit", "Pattern": "Checked"}
    assert first.price == 1299 and first.sale_price == 999 and first.effective_price == 999


def _comparable(p: Product) -> dict:
    row = p.to_row()
    row["image"] = Path(row["image"]).name  # the two folders differ; the file is the same
    return row


def test_only_id_title_and_image_are_required(photos: Path) -> None:
    cat = read_catalog(write_jsonl(photos, [{"id": 7, "title": "Plain Tee", "image": "img/a.jpg"}]))
    assert not cat.problems
    (p,) = cat.products
    assert p.id == "7" and p.price is None and p.sale_price is None and p.effective_price is None
    assert p.currency == "INR" and p.colours == () and p.attributes == {} and p.brand == ""
    assert p.metadata()["sale_price"] == -1.0  # unknown price: never passes a budget filter


def test_relative_image_paths_resolve_against_the_catalog_folder(photos: Path) -> None:
    absolute = str(photos / "img" / "b.png")
    cat = read_catalog(write_jsonl(photos, [full_row("1", image="img/a.jpg"), full_row("2", image="./img/../img/b.png"),
                                            full_row("3", image=absolute)]))
    assert [p.image for p in cat.products] == [str(photos / "img" / "a.jpg"), absolute, absolute]
    assert all(Path(p.image).is_absolute() for p in cat.products)
    assert read_catalog(photos / "products.jsonl").products == cat.products  # the file path works too


# Each broken row, the words its report must contain. Line numbers are 1-based file lines.
BROKEN: list[tuple[object, str]] = [
    ({"title": "No id", "image": "img/a.jpg"}, "missing id"),
    ({"id": "  ", "title": "Blank id", "image": "img/a.jpg"}, "missing id"),
    ({"id": "b2", "image": "img/a.jpg"}, "missing title"),
    ({"id": "b3", "title": "No image"}, "missing image"),
    (full_row("b4", price="abc"), "bad price"),
    (full_row("b5", price=-5), "bad price"),
    (full_row("b6", price="nan"), "bad price"),
    (full_row("b7", price=True), "bad price"),
    (full_row("b8", sale_price="cheap"), "bad sale_price"),
    (full_row("b9", price=500, sale_price=800), "sale_price 800 is above price 500"),
    (full_row("b10", image="img/missing.jpg"), "image not found"),
    (full_row("b11", colours="[Red, Blue"), "colours"),
    (full_row("b12", sizes=42), "sizes"),
    (full_row("b13", attributes="{not json"), "attributes"),
    (full_row("b14", attributes=["Fit", "Slim"]), "attributes"),
    (full_row("b15", brand=["Nike"]), "brand"),
    (full_row("b16", gender={"value": "Men"}), "gender"),
    (full_row("b17", title={"en": "Shirt"}), "title"),
    (full_row("b18", image=["img/a.jpg"]), "image"),
    (full_row("b19", colours={"a": 1}), "colours"),
    (full_row("good1"), "duplicate id"),  # the good row below comes first
    ('{"id": "b20", "title": "cut short', "not valid JSON"),
    ("[1, 2, 3]", "not a JSON object"),
]


def test_broken_rows_are_reported_with_line_numbers_and_skipped(photos: Path) -> None:
    lines: list[object] = [full_row("good1"), ""]  # a blank line still counts as a line
    expected: dict[int, str] = {}
    for row, words in BROKEN:
        lines.append(row)
        expected[len(lines)] = words
    lines += [full_row("good2", image="img/b.png"), {"id": "good3", "title": "Minimal", "image": "img/a.jpg"}]
    cat = read_catalog(write_jsonl(photos, lines))

    assert [p.id for p in cat.products] == ["good1", "good2", "good3"]
    got = {p.line: p for p in cat.problems}
    assert sorted(got) == sorted(expected), [str(p) for p in cat.problems]
    for line, words in expected.items():
        problem = got[line]
        assert words.lower() in problem.message.lower(), str(problem)
        assert str(problem).startswith(f"products.jsonl:{line}")


def test_broken_csv_rows_are_reported_with_line_numbers(photos: Path) -> None:
    rows = [full_row("1"), full_row("2", price="abc"), {"id": "", "title": "x", "image": "img/a.jpg"},
            full_row("4", sale_price=5000), full_row("1"), full_row("6", image="img/nope.jpg"),
            full_row("7", colours="Red|Blue", sizes="S|M")]
    cat = read_catalog(write_csv(photos, rows, list_style="pipe"))
    assert [p.id for p in cat.products] == ["1", "7"]
    assert cat.products[1].colours == ("Red", "Blue") and cat.products[1].sizes == ("S", "M")
    assert {p.line: p.message.split(" ")[0] for p in cat.problems} == {
        3: "bad", 4: "missing", 5: "sale_price", 6: "duplicate", 7: "image"}


def test_no_catalog_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"products\.jsonl or products\.csv"):
        catalog_file(tmp_path)
    with pytest.raises(CatalogError, match="no catalog"):
        read_catalog(tmp_path / "missing")


def test_splits_are_read(photos: Path) -> None:
    write_jsonl(photos, [full_row("1"), full_row("2")])
    (photos / "splits.json").write_text(json.dumps({"train": ["1", "99"], "dev": ["2"]}))
    assert read_catalog(photos).train_ids() == {"1"}
    (photos / "splits.json").unlink()
    assert read_catalog(photos).train_ids() == {"1", "2"}


def test_unreadable_photos_are_refused_with_a_message(tmp_path: Path) -> None:
    good = make_photo(tmp_path / "ok.png").read_bytes()
    assert decode_image(good).mode == "RGB"
    for data, words in [(b"", "empty"), (b"hello, not a picture", "not a readable image"),
                        (good[: len(good) // 2], "not a readable image")]:
        with pytest.raises(CatalogError, match=words):
            decode_image(data)


def test_corrupt_photos_are_caught_at_ingest(engine, settings, slice_rows: list[dict], tmp_path: Path) -> None:
    """The reader only checks that a photo exists; ingest finds the unreadable ones, reports them and goes on."""
    from assistant.index import ProductIndex
    from assistant.ingest import ingest

    media = tmp_path / "media"
    media.mkdir()
    (media / "zero.jpg").write_bytes(b"")
    (media / "text.jpg").write_text("this is a text file, not a photo\n")
    real = (Path(engine.settings.catalog_dir) / "products.jsonl").read_text().splitlines()[0]
    src = Path(json.loads(real)["image"]).read_bytes()
    (media / "cut.jpg").write_bytes(src[: len(src) // 3])
    rows = [
        *slice_rows[:3],
        {**slice_rows[3], "id": "bad-zero", "image": str(media / "zero.jpg")},
        {**slice_rows[4], "id": "bad-text", "image": str(media / "text.jpg")},
        {**slice_rows[5], "id": "bad-cut", "image": str(media / "cut.jpg")},
    ]
    folder = write_catalog(tmp_path / "cat", rows)
    index = ProductIndex(tmp_path / "index")
    report = ingest([folder], engine.space, index, settings)
    assert report.added == 3
    assert {p.product_id for p in report.problems} == {"bad-zero", "bad-text", "bad-cut"}
    assert all("image" in p.message for p in report.problems)
    assert index.count() == 3 and set(index.hashes()) == {r["id"] for r in slice_rows[:3]}
