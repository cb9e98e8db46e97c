"""`catalog import-hf`: a tiny parquet file in the Hugging Face fashion-product-images schema becomes a
catalog our reader accepts (photos written, columns mapped, bad rows reported, hub ids downloaded)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from assistant import hf_import
from assistant.catalog import CatalogError, read_catalog

SCHEMA = pa.schema([
    ("id", pa.int64()), ("gender", pa.string()), ("masterCategory", pa.string()), ("subCategory", pa.string()),
    ("articleType", pa.string()), ("baseColour", pa.string()), ("season", pa.string()), ("year", pa.float64()),
    ("usage", pa.string()), ("productDisplayName", pa.string()),
    ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
])


def picture(colour: str, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (60, 80), colour).save(out, fmt)
    return out.getvalue()


def rows() -> list[dict]:
    def row(pid: int, title: str | None, image: bytes | None, **kw: object) -> dict:
        base = {"id": pid, "gender": "Men", "masterCategory": "Apparel", "subCategory": "Topwear",
                "articleType": "Shirts", "baseColour": "Navy Blue", "season": "Fall", "year": 2011.0,
                "usage": "Casual", "productDisplayName": title,
                "image": {"bytes": image, "path": f"{pid}.jpg"} if image is not None else None}
        base.update(kw)
        return base

    return [
        row(15970, "Turtle Check Men Navy Blue Shirt", picture("navy")),
        row(39386, "Peter England Men Party Blue Jeans", picture("blue"), subCategory="Bottomwear",
            articleType="Jeans", baseColour="Blue", year=float("nan"), usage=None),
        row(59263, "Titan Women Silver Watch", picture("silver", "PNG", "RGBA"), gender="Women",
            masterCategory="Accessories", subCategory="Watches", articleType="Watches", baseColour="Silver"),
        row(1, None, picture("red")),  # no title
        row(2, "Broken photo", b"not an image"),  # unreadable photo
        row(3, "No photo", None),  # no image at all
        row(15970, "Duplicate id", picture("navy")),
    ]


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows(), schema=SCHEMA), path, row_group_size=3)
    return path


def test_converts_rows_into_a_catalog_our_reader_accepts(parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "catalog"
    report = hf_import.import_hf(str(parquet), out, batch_size=2)
    assert report.written == 3
    assert len(report.problems) == 4
    assert any("missing productDisplayName" in p for p in report.problems)
    assert any("unreadable image" in p for p in report.problems)
    assert any("no image bytes" in p for p in report.problems)
    assert any("duplicate id 15970" in p for p in report.problems)

    catalog = read_catalog(out)
    assert not catalog.problems
    by_id = {p.id: p for p in catalog.products}
    assert set(by_id) == {"15970", "39386", "59263"}
    shirt = by_id["15970"]
    assert (shirt.title, shirt.gender, shirt.category, shirt.subcategory, shirt.article_type, shirt.base_colour,
            shirt.season, shirt.year, shirt.usage) == ("Turtle Check Men Navy Blue Shirt", "Men", "Apparel", "Topwear",
                                                      "Shirts", "Navy Blue", "Fall", "2011", "Casual")
    assert shirt.price is None and shirt.brand == ""
    assert by_id["39386"].year == "" and by_id["39386"].usage == ""
    for p in catalog.products:
        assert Path(p.image) == (out / "images" / f"{p.id}.jpg").resolve()
        with Image.open(p.image) as im:
            assert im.format == "JPEG" and im.size == (60, 80)
    # a JPEG is copied byte for byte; the PNG (with alpha) was converted
    assert (out / "images" / "15970.jpg").read_bytes() == rows()[0]["image"]["bytes"]
    lines = [json.loads(line) for line in (out / "products.jsonl").read_text().splitlines()]
    assert lines[0]["image"] == "images/15970.jpg" and lines[0]["colours"] == ["Navy Blue"]
    assert not (out / "products.jsonl.tmp").exists()


def test_limit_and_folder_source(parquet: Path, tmp_path: Path) -> None:
    report = hf_import.import_hf(str(parquet.parent), tmp_path / "two", limit=2)
    assert report.written == 2
    assert len(read_catalog(tmp_path / "two").products) == 2


def test_command_line(parquet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant")
    hf_import.add_catalog_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["catalog", "import-hf", "--out", str(tmp_path / "cli"), "--source", str(parquet)])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "wrote 3 products" in out.out and "skipped row" in out.err
    assert hf_import.main(["import-hf", "--out", str(tmp_path / "main"), "--source", str(parquet), "--limit", "1"]) == 0
    assert len(read_catalog(tmp_path / "main").products) == 1


def test_hub_ids_are_downloaded_with_huggingface_hub(parquet: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[tuple[str, dict]] = []

    def fake_snapshot_download(repo_id: str, **kwargs: object) -> str:
        calls.append((repo_id, kwargs))
        return str(parquet.parent)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    report = hf_import.import_hf(hf_import.DEFAULT_SOURCE, tmp_path / "hub")
    assert report.written == 3
    assert calls[0][0] == "ashraq/fashion-product-images-small"
    assert calls[0][1]["repo_type"] == "dataset"


def test_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CatalogError, match="no parquet file"):
        hf_import.import_hf(str(tmp_path / "missing.parquet"), tmp_path / "x")
    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"id": [1], "name": ["x"]}), wrong)
    with pytest.raises(CatalogError, match="no productDisplayName, image column"):
        hf_import.import_hf(str(wrong), tmp_path / "y")

    import huggingface_hub

    def offline(repo_id: str, **kwargs: object) -> str:
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CatalogError, match="pass a local parquet file"):
        hf_import.import_hf("someone/some-dataset", tmp_path / "z")
    assert hf_import.main(["import-hf", "--out", str(tmp_path / "z"), "--source", "someone/some-dataset"]) == 2
