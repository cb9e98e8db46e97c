"""The named API endpoints, called with gradio_client against `python app.py` running on the test slice:
search_text, search_image and search_voice return JSON product lists (id, title, brand, price,
sale_price, image, score, reasons); bad input comes back as an error message; uploads are deleted."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from assistant.config import Settings

try:
    from test_browser import FASHION, ROOT, RunningApp
except ImportError:  # tests imported as a package
    from tests.test_browser import FASHION, ROOT, RunningApp

FIELDS = {"id", "title", "brand", "price", "sale_price", "image", "score", "reasons"}


@pytest.fixture(scope="module")
def app(engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with RunningApp(settings, tmp_path_factory.mktemp("api-app")) as running:
        yield running


@pytest.fixture(scope="module")
def client(app: RunningApp) -> Client:
    c = Client(app.url, verbose=False)
    for _ in range(600):  # until the engine is ready (the page says "getting ready" meanwhile)
        try:
            c.predict(query="shirts", top_k=1, api_name="/search_text")
            return c
        except Exception as e:  # gradio_client raises AppError with the app's message
            assert "getting ready" in str(e), str(e)
            time.sleep(0.5)
    raise TimeoutError("the assistant never got ready")


def check_products(out: dict, at_least: int = 5) -> list[dict]:
    products = out["products"]
    assert len(products) >= at_least
    for p in products:
        assert set(p) >= FIELDS
        assert isinstance(p["score"], float) and isinstance(p["reasons"], list)
        assert p["sale_price"] is None or p["price"] is None or p["sale_price"] <= p["price"]
    return products


def test_endpoints_are_listed(client: Client) -> None:
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/search_text", "/search_image", "/search_voice"} <= set(named)
    assert [p["parameter_name"] for p in named["/search_text"]["parameters"]] == ["query", "min_price", "max_price", "top_k"]


def test_search_text(client: Client, slice_rows: list[dict]) -> None:
    kind = Counter(r["article_type"] for r in slice_rows).most_common(1)[0][0]
    out = client.predict(query=f"{kind} under 2000 rupees", top_k=8, api_name="/search_text")
    products = check_products(out)
    assert len(products) <= 8
    assert all(p["sale_price"] <= 2000 for p in products)
    assert f"article type: {kind}" in out["understood"] and "price ≤ 2000" in out["understood"]
    assert sum(p["article_type"] == kind for p in products) >= len(products) * 0.8
    capped = client.predict(query=kind, min_price=500, max_price=1000, api_name="/search_text")
    assert all(500 <= p["sale_price"] <= 1000 for p in check_products(capped, 1))
    zh = client.predict(query="我想买1000元以下的女士手提包", api_name="/search_text")
    assert zh["language"] == "zh" and all(p["sale_price"] <= 1000 for p in zh["products"])


def test_search_image(client: Client, app: RunningApp, slice_rows: list[dict]) -> None:
    kind = Counter(r["article_type"] for r in slice_rows).most_common(1)[0][0]
    row = next(r for r in slice_rows if r["article_type"] == kind)
    out = client.predict(image=handle_file(str(FASHION / row["image"])), api_name="/search_image")
    products = check_products(out)
    assert out["photo"].startswith("looks like")
    assert sum(p["article_type"] == kind for p in products) >= len(products) / 2
    assert products[0]["id"] == row["id"] or row["id"] in {p["id"] for p in products[:3]}
    worded = client.predict(image=handle_file(str(FASHION / row["image"])), query="in black", top_k=5,
                            api_name="/search_image")
    assert len(check_products(worded)) == 5
    leftovers = [p for p in app.uploads.rglob("*") if p.is_file() and p.suffix == ".jpg"]
    assert leftovers == []  # the uploaded photos were deleted once read


def test_search_voice(client: Client, app: RunningApp) -> None:
    clip = ROOT / "assets" / "voice" / "blue-shirts-for-men.wav"
    out = client.predict(audio=handle_file(str(clip)), api_name="/search_voice")
    products = check_products(out)
    assert "shirt" in out["transcript"].lower() and out["language"] == "en"
    assert sum(p["article_type"] == "Shirts" for p in products) >= len(products) * 0.8
    assert not [p for p in app.uploads.rglob("*") if p.is_file() and p.suffix == ".wav"]


def test_errors_come_back_as_messages(client: Client, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="tell me what you are looking for"):
        client.predict(query="   ", api_name="/search_text")
    with pytest.raises(Exception, match="too long"):
        client.predict(query="x" * 5000, api_name="/search_text")
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("this is not a picture")
    with pytest.raises(Exception, match=r"(?i)image|photo"):
        client.predict(image=handle_file(str(not_a_photo)), api_name="/search_image")
    silence = tmp_path / "silence.wav"
    from assistant.ui import silent_wav

    silence.write_bytes(silent_wav(1.0))
    with pytest.raises(Exception, match="didn't catch"):
        client.predict(audio=handle_file(str(silence)), api_name="/search_voice")
