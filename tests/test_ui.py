"""The shopping chat without a browser: follow-up logic (cheaper, in blue, for women, show more, not this
brand, more like #2, new topic, reset, and every other follow-up act in English and Chinese), likes and
dislikes, chips → filters, card rendering, privacy of uploads, the background engine loader and the app
module's start-up."""

from __future__ import annotations

import ast
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.chat import photo_constraints, said_gender
from assistant.config import Settings
from assistant.errors import InputError
from assistant.index import Filters, IndexUnavailable
from assistant.session import (
    PAGE_SIZE,
    Constraints,
    Session,
    cheaper_limit,
    ordinal,
    rupees,
    search_call,
    summarize,
    zh_name,
)
from assistant.tryon import TOPWEAR
from assistant.ui import (
    EMPTY_GRID,
    Assistant,
    EngineLoader,
    Reply,
    answer,
    api_concurrency,
    build_demo,
    card_html,
    chip_choices,
    discard_upload,
    is_audio,
    launch_options,
    read_and_discard,
    read_uploads,
    render_cards,
    silent_wav,
    user_message,
    voice_examples,
)
from assistant.understanding import Understanding, Vocabulary, understand

ROOT = Path(__file__).resolve().parent.parent
FASHION = ROOT.parent / "shared" / "datasets" / "fashion"
VOCAB = Vocabulary({
    "gender": {"Men": 5, "Women": 5, "Unisex": 2}, "article_type": {"Heels": 3, "Shirts": 4, "Dresses": 2, "Tshirts": 3},
    "base_colour": {"Black": 3, "Blue": 3, "Red": 2, "Navy Blue": 1}, "usage": {"Casual": 4, "Party": 1},
    "brand": {"Nike": 2, "Inc 5": 2, "Puma": 1},
})


def u(text: str) -> Understanding:
    return understand(text, VOCAB)


def settled(**kw: object) -> Session:
    """A session after a first search for black heels."""
    s = Session(text="black heels", constraints=Constraints(article_type=("Heels",), colour=("Black",)), settled=True,
                shown=[summarize(str(i), {"title": f"T{i}", "brand": "Inc 5" if i % 2 else "Nike", "price": 1000.0 + i * 100,
                                          "sale_price": 900.0 + i * 100, "image": "/x.jpg", "article_type": "Heels"})
                       for i in range(6)])
    for k, v in kw.items():
        setattr(s, k, v)
    return s


# ------------------------------------------------------------------------------------------------
# pure logic
# ------------------------------------------------------------------------------------------------
def test_rupees() -> None:
    assert rupees(1299) == "₹1,299"
    assert rupees(999.6) == "₹1,000"
    assert rupees(125000) == "₹1,25,000"
    assert rupees(12345678) == "₹1,23,45,678"
    assert rupees(None) == "—" and rupees(-1) == "—"


def test_ordinals() -> None:
    assert ordinal("more like the second one") == 1
    assert ordinal("like #3") == 2
    assert ordinal("similar to the 4th") == 3
    assert ordinal("like number 5") == 4
    assert ordinal("more like the last one") == -1
    assert ordinal("更像第二个") == 1
    assert ordinal("像第3个") == 2
    assert ordinal("not this brand") is None


def test_constraints_merge_chips_filters() -> None:
    c = Constraints.from_understanding(u("black heels under 1500 for women not puma"))
    assert c.max_price == 1500 and c.colour == ("Black",) and c.article_type == ("Heels",)
    assert c.gender == ("Women", "Unisex") and c.exclude_brand == ("Puma",)
    labels = dict(c.chips())
    assert labels == {"Price: under ₹1,500": "price", "For: Women (+ unisex)": "gender", "Category: Heels": "article_type",
                      "Colour: Black": "colour", "Not brand: Puma": "exclude_brand"}
    # a new colour replaces the old one; exclusions add up; a price floor above the new cap is dropped
    merged = c.merge(Constraints(colour=("Blue",), exclude_brand=("Nike",)))
    assert merged.colour == ("Blue",) and merged.exclude_brand == ("Puma", "Nike") and merged.article_type == ("Heels",)
    assert Constraints(min_price=2000).merge(Constraints(max_price=1000)).min_price is None
    # asking for an excluded brand lifts the exclusion
    assert c.merge(Constraints(brand=("Puma",))).exclude_brand == ()
    # unticking chips removes their constraints
    kept = c.keep(["article_type", "gender"])
    assert kept == Constraints(gender=("Women", "Unisex"), article_type=("Heels",))
    assert c.keep([]).is_empty()
    f = c.filters(exclude_ids=("1", "2"))
    assert f == Filters(max_price=1500, gender=("Women", "Unisex"), article_type=("Heels",), colour=("Black",),
                        exclude_brand=("Puma",), exclude_ids=("1", "2"))
    assert c.words() == "women black heels"
    assert c.describe() == "women's black heels under ₹1,500, not Puma"
    assert c.describe("zh") == "女士黑色高跟鞋（₹1,500 以下），不要Puma"
    assert Constraints(gender=("Women", "Unisex"), colour=("Black",), article_type=("Handbags",), max_price=1000,
                       brand=("Nike",)).describe() == "women's black handbags under ₹1,000, Nike only"
    assert c.admits({"sale_price": 999.0, "gender": "Women", "article_type": "Heels", "base_colour": "Black", "brand": "Inc 5"})
    assert not c.admits({"sale_price": 1999.0, "gender": "Women", "article_type": "Heels", "base_colour": "Black"})
    assert not c.admits({"sale_price": 999.0, "gender": "Women", "article_type": "Heels", "base_colour": "Black",
                         "brand": "Puma"})
    assert not c.admits({"sale_price": -1.0, "gender": "Women", "article_type": "Heels", "base_colour": "Black"})


def test_chip_choices_are_all_ticked() -> None:
    choices, ticked = chip_choices(Constraints(max_price=999, colour=("Red",)))
    assert choices == [("Price: under ₹999", "price"), ("Colour: Red", "colour")]
    assert ticked == ["price", "colour"]
    assert chip_choices(Constraints()) == ([], [])


def test_search_call_first_search_then_chips_as_filters() -> None:
    first = search_call(Session(text="black heels under 1500"))
    assert first.text == "black heels under 1500" and first.image is None and first.use_understanding
    assert "use_understanding" not in first.kwargs()
    s = settled(likes=["3"], dislikes=["4"], subject="party")
    call = search_call(s, exclude_ids=["1", "2"])
    assert call.text == "black heels party" and call.use_understanding is False
    assert call.filters.article_type == ("Heels",) and call.filters.colour == ("Black",)
    assert call.filters.exclude_ids == ("1", "2", "4")  # shown pages and disliked products
    assert call.like_ids == ("3",) and call.dislike_ids == ("4",)
    assert call.kwargs()["use_understanding"] is False
    # every chip removed: the request's own words again
    bare = search_call(settled(constraints=Constraints()))
    assert bare.text == "black heels"
    # a catalog photo ("more like #2") is searched by its path
    assert search_call(settled(photo_path="/p.jpg")).image == "/p.jpg"


def test_cheaper_limit_is_below_the_median() -> None:
    assert cheaper_limit([500, 1000, 1500]) == 999
    assert cheaper_limit([]) is None


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------
def card_of(row: dict, reasons: tuple[str, ...] = ()) -> dict:
    meta = {**row, "image": str(FASHION / row["image"]), "sale_price": row.get("sale_price") or -1.0,
            "price": row.get("price") or -1.0}
    return summarize(row["id"], meta, 0.9, reasons)


def test_card_shows_photo_title_brand_price_discount_and_reasons(slice_rows: list[dict]) -> None:
    row = next(r for r in slice_rows if r.get("sale_price") and r.get("price") and r["sale_price"] < r["price"])
    p = card_of(row, ("colour: Black", "article type: Heels"))
    html = card_html(p, 2, liked=True)
    pct = round((row["price"] - row["sale_price"]) / row["price"] * 100)
    assert f"data-id='{row['id']}'" in html and f"data-type='{row['article_type']}'" in html
    assert f"src='shop/photo/card/{row['id']}.jpg'" in html and "base64" not in html  # a cacheable URL, no bytes
    assert "data-open" in html and "data-shortlist" in html  # opens its page; can be shortlisted
    assert len(html) < 1500  # a grid of 12 travels on every turn
    assert rupees(row["sale_price"]) in html and f'<span class="sa-was">{rupees(row["price"])}</span>' in html
    assert f"{pct}% off" in html and f"−{pct}%" in html
    assert "✓ Black · Heels" in html
    assert ">#2<" in html and "sa-liked" in html
    assert "data-action='like'" in html and "data-action='dislike'" in html and "data-action='similar'" in html
    assert ("data-action='tryon'" in html) == (row["article_type"] in TOPWEAR)  # the fitting room: tops only
    full = next(r for r in slice_rows if r.get("sale_price") and r["sale_price"] == r.get("price"))
    plain = card_html(card_of(full), 1)
    assert "% off" not in plain and "sa-was" not in plain


def test_cards_escape_text_and_handle_unknown_prices() -> None:
    p = summarize("x1", {"title": '<script>alert("x")</script>', "brand": "A & B", "price": -1.0, "sale_price": -1.0,
                         "image": "/nowhere.jpg"})
    html = card_html(p, 1)
    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html
    assert "Price on request" in html
    grid = render_cards([p], "1 result")
    assert grid.count("class='sa-card") == 1 and "1 result" in grid
    assert render_cards([]) == EMPTY_GRID


def test_user_message_shows_voice_and_photo(slice_rows: list[dict]) -> None:
    image = FASHION / slice_rows[0]["image"]
    assert user_message("red dress") == "red dress"
    assert user_message(voice="blue shirts") == "🎤 I heard: “blue shirts”"
    msg = user_message("like this", photo=image.read_bytes())
    assert msg.startswith("like this") and 'src="data:image/jpeg;base64,' in msg
    assert 'src="shop/photo/thumb/1.jpg"' in user_message(photo_src="shop/photo/thumb/1.jpg")


def test_voice_examples_are_shipped() -> None:
    clips = voice_examples()
    assert len(clips) >= 3
    for said, clip in clips:
        assert said and clip.suffix == ".wav" and clip.stat().st_size > 10_000
        assert clip.read_bytes()[:4] == b"RIFF"
        assert int.from_bytes(clip.read_bytes()[24:28], "little") == 16_000  # 16 kHz


def test_voice_example_script(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_voice_examples.py"), "--out", str(tmp_path), "--only", "1"],
                   check=True, capture_output=True)
    wav = next(tmp_path.glob("*.wav"))
    assert wav.with_suffix(".txt").read_text().strip() == "black heels under 1500 rupees"
    assert int.from_bytes(wav.read_bytes()[24:28], "little") == 16_000


# ------------------------------------------------------------------------------------------------
# privacy: uploads are read into memory and their files deleted
# ------------------------------------------------------------------------------------------------
def test_uploads_are_deleted_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    upload = tmp_path / "uploads" / "abc123" / "photo.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"shopper's photo")
    assert read_and_discard(upload) == b"shopper's photo"
    assert not upload.exists() and not upload.parent.exists()
    ours = tmp_path / "assets" / "clip.wav"
    ours.parent.mkdir()
    ours.write_bytes(b"RIFF")
    discard_upload(ours)  # not an upload: left alone
    assert ours.exists()
    with pytest.raises(InputError):
        read_and_discard(tmp_path / "uploads" / "gone.jpg")


def test_attachments_are_told_apart_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               slice_rows: list[dict]) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    jpeg = (FASHION / slice_rows[0]["image"]).read_bytes()
    files = {"a/blob": silent_wav(), "b/photo": jpeg, "c/second.jpg": jpeg, "d/recording.webm": b"\x1aE\xdf\xa3rest"}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(data)
    photo, audio = read_uploads([str(tmp_path / "a/blob"), {"path": str(tmp_path / "b/photo")},
                                 str(tmp_path / "c/second.jpg"), str(tmp_path / "d/recording.webm")])
    assert photo == jpeg and audio == silent_wav()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # every upload deleted, used or not
    assert is_audio("x.jpg", silent_wav()) and not is_audio("voice.wav", jpeg)
    assert is_audio("clip.m4a") and not is_audio("shot.png")


# ------------------------------------------------------------------------------------------------
# the engine loader and the app module
# ------------------------------------------------------------------------------------------------
def test_loader_says_getting_ready_then_explains_a_missing_catalog() -> None:
    from assistant.bootstrap import NO_CATALOG
    from assistant.catalog import CatalogError

    def slow_then_missing():
        time.sleep(0.5)
        raise CatalogError(NO_CATALOG.format(path="/nowhere"))

    loader = EngineLoader(slow_then_missing).start()
    assert "Getting ready" in loader.status_html()
    assert loader.wait(10) is None
    assert loader.stage == "failed" and "import-hf" in loader.status_html()
    reply = answer(loader, Session(), lambda a: a.message(Session(), "shirts"))
    assert not reply.ok and "import-hf" in reply.text


def test_answer_turns_errors_into_messages(engine) -> None:
    loader = EngineLoader(lambda: engine, warm_speech=False).start()
    assert loader.wait(60) is engine and loader.status_html() == ""
    assert loader.examples and all(Path(m["image"]).is_file() for _, m in loader.examples)
    assert len({m["article_type"] for _, m in loader.examples}) == len(loader.examples)
    s = Session()
    too_long = answer(loader, s, lambda a: a.message(s, "x" * 5000))
    assert not too_long.ok and too_long.text.startswith("⚠️") and "too long" in too_long.text

    def down(a: Assistant) -> Reply:
        raise IndexUnavailable("search is unavailable: the vector store did not answer")

    assert "unavailable" in answer(loader, s, down).text

    def bug(a: Assistant) -> Reply:
        raise RuntimeError("boom")

    assert "Something went wrong" in answer(loader, s, bug).text
    assert "Tell me what you're looking for" in Assistant(engine).message(s, "").text


def test_demo_builds_with_named_api_endpoints() -> None:
    loader = EngineLoader(lambda: (_ for _ in ()).throw(InputError("no catalog")))
    demo = build_demo(loader)
    names = {getattr(fn, "api_name", None) for fn in demo.fns.values()}
    assert {"search_text", "search_image", "search_voice"} <= names


def test_app_import_is_quick_and_does_not_block(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_ANALYTICS_ENABLED", "GRADIO_RUN_HISTORY")}
    env.update({"CATALOG_DIR": str(tmp_path / "no-catalog"), "DATA_DIR": str(tmp_path / "data"),
                "GRADIO_DEFAULT_CONCURRENCY_LIMIT": "3", "PYTHONPATH": str(ROOT)})
    code = ("import time; t = time.time(); import app; took = time.time() - t\n"
            "assert app.loader.wait(120) is None\n"
            "print(round(took, 1)); print(app.loader.error); print(app.demo.__class__.__name__)\n"
            "print(app.demo._queue.default_concurrency_limit, app.demo.analytics_enabled)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    took, error, kind, queue = out.stdout.strip().splitlines()[-4:]
    assert float(took) < 30
    assert "import-hf" in error and kind == "Blocks"
    assert queue == "3 False"


def test_launch_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    loader = EngineLoader(lambda: (_ for _ in ()).throw(InputError("no catalog")))
    options = launch_options(loader)
    assert (options["server_name"], options["server_port"]) == ("127.0.0.1", 7860)
    assert options["run_history"] is False and "css" in options
    assert {r.path for r in options["app_kwargs"]["routes"]} == {"/shop/photo/{size}/{pid}.jpg", "/shop/product/{pid}",
                                                                 "/shop/compare"}
    monkeypatch.setenv("SPACE_ID", "someone/shopping-assistant")  # on a Hugging Face Space: its proxy must reach us
    assert launch_options(loader)["server_name"] == "0.0.0.0"
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    assert (launch_options(loader)["server_name"], launch_options(loader)["server_port"]) == ("0.0.0.0", 7999)


def test_persistent_storage_on_spaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On HF Spaces /data is the persistent volume: caches and DATA_DIR go there (DATA_DIR only if unset)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "use_persistent_storage")
    namespace: dict = {"os": os, "Path": Path}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "app.py", "exec"), namespace)
    use = namespace["use_persistent_storage"]
    for name in ("HF_HOME", "TORCH_HOME", "XDG_CACHE_HOME", "SENTENCE_TRANSFORMERS_HOME", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert use(str(tmp_path / "missing")) is False
    assert "HF_HOME" not in os.environ
    assert use(str(tmp_path)) is True
    assert os.environ["HF_HOME"] == str(tmp_path / ".huggingface")
    assert os.environ["DATA_DIR"] == str(tmp_path / "assistant")
    assert Settings.from_env().data_dir == str(tmp_path / "assistant")
    monkeypatch.setenv("DATA_DIR", "/elsewhere")
    use(str(tmp_path))
    assert os.environ["DATA_DIR"] == "/elsewhere"


# ------------------------------------------------------------------------------------------------
# the conversation on the real slice (engine fixture)
# ------------------------------------------------------------------------------------------------
def top(rows: list[dict], key: object, n: int = 1) -> list:
    return [k for k, _ in Counter(key(r) for r in rows).most_common(n)]  # type: ignore[operator]


@pytest.fixture(scope="module")
def assistant(engine) -> Assistant:
    return Assistant(engine)


def test_new_request_presets_chips_and_cheaper_lowers_every_price(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind, gender = top(slice_rows, lambda r: (r["article_type"], r["gender"]))[0]
    first = assistant.message(Session(), f"{kind} for {gender.lower()}")
    s = first.session
    assert len(first.cards) >= 5 and first.changed and first.ok
    assert s.constraints.article_type == (kind,) and gender in s.constraints.gender
    assert dict(s.constraints.chips()).get(f"Category: {kind}") == "article_type"
    assert first.text.startswith("Here are") and str(len(first.cards)) in first.text

    before = [p["sale_price"] for p in first.cards]
    cheaper = assistant.message(s, "cheaper")
    assert cheaper.ok and len(cheaper.cards) >= 1
    now = [p["sale_price"] for p in cheaper.cards]
    assert statistics.median(now) < statistics.median(before) and max(now) < max(before)
    assert cheaper.session.constraints.max_price is not None and "cheaper" in cheaper.text
    assert cheaper.session.constraints.article_type == (kind,)  # the rest of the request is kept
    # below the typical price on screen, or when fewer than a page are, the cheapest page below the dearest shown
    assert len(cheaper.cards) == min(PAGE_SIZE, assistant.count(replace(s.constraints, max_price=max(before) - 1)))


def test_in_a_colour_and_for_women(assistant: Assistant, slice_rows: list[dict]) -> None:
    (kind, colour), = top(slice_rows, lambda r: (r["article_type"], r["base_colour"]))
    first = assistant.message(Session(), kind)
    blue = assistant.message(first.session, f"in {colour.lower()}")
    assert blue.ok and len(blue.cards) >= 2
    assert all(p["base_colour"] == colour for p in blue.cards)
    assert blue.session.constraints.colour == (colour,) and blue.session.constraints.article_type == (kind,)

    women_kind = top([r for r in slice_rows if r["gender"] == "Women" and r["article_type"] in
                      {r2["article_type"] for r2 in slice_rows if r2["gender"] == "Men"}], lambda r: r["article_type"])[0]
    first = assistant.message(Session(), women_kind.lower())
    women = assistant.message(first.session, "for women")
    assert women.ok and women.cards
    assert all(p["gender"] in ("Women", "Unisex") for p in women.cards)
    assert "Women" in women.session.constraints.gender


def test_show_more_gives_the_next_page(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    first = assistant.message(Session(), kind)
    more = assistant.message(first.session, "show more")
    assert more.ok and more.cards
    assert not {p["id"] for p in more.cards} & {p["id"] for p in first.cards}
    assert set(more.session.seen_ids) == {p["id"] for p in first.cards + more.cards}
    assert more.text.startswith("Here are") and "more" in more.text


def test_not_this_brand(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    first = assistant.message(Session(), kind)
    brand = first.cards[0]["brand"]
    other = assistant.message(first.session, "not this brand")
    assert other.ok and other.cards
    assert brand not in {p["brand"] for p in other.cards}
    assert other.session.constraints.exclude_brand == (brand,)
    assert ("Not brand: " + brand, "exclude_brand") in other.session.constraints.chips()
    second_brand = other.cards[1]["brand"]
    again = assistant.message(other.session, "other brands than the second one")
    assert again.ok and {brand, second_brand} <= set(again.session.constraints.exclude_brand)
    assert not {brand, second_brand} & {p["brand"] for p in again.cards}


def test_more_like_the_second_one_uses_its_photo(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    first = assistant.message(Session(), kind)
    second = first.cards[1]
    like = assistant.message(first.session, "more like the second one")
    assert like.ok and like.cards
    assert like.session.photo_path == second["image"]
    assert second["id"] not in {p["id"] for p in like.cards}
    assert "#2" in like.text and second["title"] in like.text
    # the same from the card's "Similar" button
    same = assistant.card_action(first.session, "similar", second["id"])
    assert same.session.photo_path == second["image"] and same.cards


def test_a_new_topic_starts_fresh_and_reset_forgets(assistant: Assistant, slice_rows: list[dict]) -> None:
    kinds = top(slice_rows, lambda r: r["article_type"], 3)
    first = assistant.message(Session(), f"{kinds[0]} under 3000")
    liked = assistant.card_action(first.session, "like", first.cards[3]["id"]).session
    assert liked.likes
    fresh = assistant.message(liked, kinds[2])
    assert fresh.session.constraints.article_type == (kinds[2],)
    assert fresh.session.constraints.max_price is None and fresh.session.likes == []
    assert fresh.session.text == kinds[2]
    assert assistant.reset() == Session()


def test_unticked_chips_remove_constraints(assistant: Assistant, slice_rows: list[dict]) -> None:
    (kind, colour), = top(slice_rows, lambda r: (r["article_type"], r["base_colour"]))
    first = assistant.message(Session(), f"{colour} {kind} under 5000".lower())
    keys = [k for _, k in first.session.constraints.chips()]
    assert {"colour", "article_type", "price"} <= set(keys)
    wider = assistant.set_chips(first.session, [k for k in keys if k != "colour"])
    assert wider.ok and wider.session.constraints.colour == () and wider.session.constraints.article_type == (kind,)
    assert "Removed Colour: " + colour in wider.text
    assert all(p["article_type"] == kind for p in wider.cards)
    # the filter panel: price range, gender, category, colour
    panel = assistant.set_filters(wider.session, 100, 900, ["Men"], [kind], [])
    assert panel.ok or "couldn't find" in panel.text
    if panel.ok:
        assert all(100 <= p["sale_price"] <= 900 and p["gender"] in ("Men", "Unisex") for p in panel.cards)
        assert panel.session.constraints.gender == ("Men", "Unisex")


def test_like_moves_results_towards_it_and_dislike_hides(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    first = assistant.message(Session(), kind)
    target = first.cards[7]
    liked = assistant.card_action(first.session, "like", target["id"])
    assert liked.ok and target["id"] in liked.session.likes and "Noted" in liked.text
    ranks = [p["id"] for p in liked.cards]
    assert target["id"] in ranks[:7]  # moved up from #8

    def closeness(cards: list[dict]) -> int:
        return sum(p["base_colour"] == target["base_colour"] for p in cards)

    assert closeness(liked.cards) >= closeness(first.cards)
    disliked = assistant.card_action(liked.session, "dislike", liked.cards[0]["id"])
    assert liked.cards[0]["id"] not in {p["id"] for p in disliked.cards}
    assert liked.cards[0]["id"] in disliked.session.dislikes and liked.cards[0]["id"] not in disliked.session.likes


def test_photo_request_says_what_it_sees(assistant: Assistant, slice_rows: list[dict]) -> None:
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    row = next(r for r in slice_rows if r["article_type"] == kind)
    photo = (FASHION / row["image"]).read_bytes()
    reply = assistant.message(Session(), photo=photo)
    assert reply.ok and len(reply.cards) >= 5
    assert "looks like" in reply.text and reply.session.photo_description in reply.text
    assert sum(p["article_type"] == kind for p in reply.cards) >= len(reply.cards) // 2
    assert reply.session.photo is not None and len(reply.session.photo) < len(photo) * 4  # kept small, in memory
    assert "<img" in reply.user
    cheaper = assistant.message(reply.session, "cheaper")
    assert cheaper.ok and all(p["sale_price"] <= cheaper.session.constraints.max_price for p in cheaper.cards)


def test_the_reply_names_the_very_product_only_when_it_is_claimed(assistant: Assistant, slice_rows: list[dict]) -> None:
    """A catalog product's own photo is claimed: the reply names it, and it is the first card. Someone's own
    T-shirt on a bed is no catalog product: the reply names none."""
    row = slice_rows[9]
    reply = assistant.message(Session(), photo=(FASHION / row["image"]).read_bytes())
    assert reply.cards[0]["id"] == row["id"]
    assert reply.text.endswith(f" The first one is the very product in your photo: {row['title']}."), reply.text
    real = sorted((FASHION.parent / "real-photos" / "images").glob("*.jpg"))[11]
    other = assistant.message(Session(), photo=real.read_bytes())
    assert other.ok and other.cards and "very product" not in other.text, other.text


def test_voice_request_shows_the_transcript(assistant: Assistant) -> None:
    _, clip = next((s, c) for s, c in voice_examples() if "shirts" in s)
    reply = assistant.message(Session(), audio=str(clip))
    assert reply.ok and len(reply.cards) >= 5
    assert reply.user.startswith("🎤 I heard: “") and "shirts" in reply.user.lower()
    assert reply.session.constraints.article_type == ("Shirts",)


def test_silence_and_chinese(assistant: Assistant) -> None:
    quiet = assistant.message(Session(), audio=silent_wav(1.0))
    assert not quiet.ok and "didn't catch" in quiet.text
    zh = assistant.message(Session(), "我想买1000元以下的女士手提包")
    assert zh.ok and zh.text.startswith("为你找到") and zh.session.language == "zh"
    assert zh.session.constraints.max_price == 1000
    assert all(p["sale_price"] <= 1000 for p in zh.cards)
    cheaper = assistant.message(zh.session, "便宜一点")
    assert cheaper.text.startswith("更便宜的") or cheaper.text.startswith("没有找到")


def test_the_api_runs_one_search_in_words_and_one_photo_or_voice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    assert api_concurrency() == {"search_text": ("api-text", 1), "search_image": ("api-media", 1),
                                 "search_voice": ("api-media", 1)}
    monkeypatch.setenv("ASSISTANT_TEXT_CONCURRENCY", "3")  # more cores: more at once, from the settings
    monkeypatch.setenv("ASSISTANT_MEDIA_CONCURRENCY", "2")
    assert api_concurrency()["search_text"] == ("api-text", 3) and api_concurrency()["search_voice"] == ("api-media", 2)


# ------------------------------------------------------------------------------------------------
# every follow-up act, English and Chinese, on the real slice
# ------------------------------------------------------------------------------------------------
def start(assistant: Assistant, slice_rows: list[dict], zh: bool = False) -> tuple[Reply, str, str]:
    """A first request for the slice's most common (type, gender): (reply, type, gender)."""
    (kind, gender), = top(slice_rows, lambda r: (r["article_type"], r["gender"]))
    words = {"Men": "男士", "Women": "女士"}
    if zh:
        first = assistant.message(Session(), f"{words.get(gender, '')}{zh_name(kind)}")
    else:
        first = assistant.message(Session(), f"{kind} for {gender.lower()}")
    assert first.ok and first.session.constraints.article_type == (kind,)
    return first, kind, gender


@pytest.mark.parametrize("zh", [False, True])
def test_colour_then_any_colour_then_a_cap(assistant: Assistant, slice_rows: list[dict], zh: bool) -> None:
    first, kind, gender = start(assistant, slice_rows, zh)
    colour = top([r for r in slice_rows if r["article_type"] == kind and r["gender"] == gender], lambda r: r["base_colour"])[0]
    coloured = assistant.message(first.session, f"要{zh_name(colour)}的" if zh else f"do you have {colour.lower()} ones")
    assert coloured.session.constraints.colour == (colour,) and all(p["base_colour"] == colour for p in coloured.cards)
    anyc = assistant.message(coloured.session, "什么颜色都可以" if zh else "I don't mind what colour")
    assert anyc.ok and anyc.session.constraints.colour == () and anyc.session.constraints.article_type == (kind,)
    cap = sorted(p["sale_price"] for p in anyc.cards)[len(anyc.cards) // 2]
    capped = assistant.message(anyc.session, f"不要超过{int(cap)}元" if zh else f"nothing above {int(cap)}")
    assert capped.ok and capped.session.constraints.max_price == int(cap) and capped.session.constraints.min_price is None
    assert all(p["sale_price"] <= cap and p["article_type"] == kind for p in capped.cards)
    assert rupees(int(cap)) in capped.text  # the reply says what is now understood, as the chips do
    assert (zh_name(kind) if zh else kind.lower()) in capped.text.lower()


@pytest.mark.parametrize("zh", [False, True])
def test_a_question_about_the_cards_as_a_group_refines(assistant: Assistant, slice_rows: list[dict], zh: bool) -> None:
    """"Do they come in black?" asks for other products (no card named): a refinement, not a product question;
    "does the second one come in black?" names one: a question about it, the cards stay."""
    first, kind, gender = start(assistant, slice_rows, zh)
    colour = top([r for r in slice_rows if r["article_type"] == kind and r["gender"] == gender], lambda r: r["base_colour"],
                 2)[1]
    group = assistant.message(first.session, f"这些有{zh_name(colour)}的吗" if zh else f"do they come in {colour.lower()}?")
    assert group.ok and group.changed and group.session.constraints.colour == (colour,)
    assert group.session.constraints.article_type == (kind,) and all(p["base_colour"] == colour for p in group.cards)
    pricey = assistant.message(first.session, "these are pricey, anything for less?")
    assert pricey.ok and pricey.session.constraints.max_price is not None
    one = assistant.message(first.session, f"does the second one come in {colour.lower()}?")
    assert one.session.focus == first.cards[1]["id"] and one.session.shown == first.session.shown


@pytest.mark.parametrize("zh", [False, True])
def test_a_refusal_after_the_brand_refuses_it(assistant: Assistant, slice_rows: list[dict], zh: bool) -> None:
    first, kind, _ = start(assistant, slice_rows, zh)
    brand = first.cards[0]["brand"]
    refused = assistant.message(first.session, f"{brand}的不要" if zh else f"{brand}? no thanks")
    assert refused.ok and refused.session.constraints.exclude_brand == (brand,)
    assert refused.session.constraints.brand == () and refused.session.constraints.article_type == (kind,)
    assert brand not in {p["brand"] for p in refused.cards}


def test_a_photo_keeps_who_the_shopper_said_it_is_for(assistant: Assistant, slice_rows: list[dict]) -> None:
    """A photo in the middle of a conversation is a new subject; who it's for, said in words before, stays (when
    the catalog has the photo's kind of product for them); a photo's own guess of it is not carried."""
    first, kind, gender = start(assistant, slice_rows)
    other = next(r for r in slice_rows if r["article_type"] != kind and r["gender"] == "Unisex" and
                 assistant.count(Constraints(gender=(gender, "Unisex"), article_type=(r["article_type"],))) >= PAGE_SIZE)
    photo = assistant.message(first.session, photo=(FASHION / other["image"]).read_bytes())
    assert photo.ok and photo.session.photo_facets.get("article_type") == other["article_type"]
    assert photo.session.constraints.gender == first.session.constraints.gender
    assert all(p["gender"] in (gender, "Unisex") for p in photo.cards)
    assert said_gender(first.session) == first.session.constraints.gender
    assert said_gender(replace(photo.session, constraints=photo_constraints(photo.session.photo_facets))) == ()


@pytest.mark.parametrize("zh", [False, True])
def test_floor_budget_up_and_down(assistant: Assistant, slice_rows: list[dict], zh: bool) -> None:
    first, kind, _ = start(assistant, slice_rows, zh)
    floor = sorted(p["sale_price"] for p in first.cards)[len(first.cards) // 2]
    floored = assistant.message(first.session, f"至少{int(floor)}元" if zh else f"at least {int(floor)} rupees")
    assert floored.ok and floored.session.constraints.min_price == int(floor)
    assert all(p["sale_price"] >= floor for p in floored.cards)
    capped = assistant.message(first.session, "2000元以下" if zh else "under 2000")
    down = assistant.message(capped.session, "预算减少500" if zh else "lower my budget by 500")
    assert down.session.constraints.max_price == 1500
    up = assistant.message(down.session, "预算提高到3000" if zh else "raise my budget to 3000")
    assert up.session.constraints.max_price == 3000 and up.session.constraints.article_type == (kind,)
    free = assistant.message(up.session, "价格无所谓" if zh else "forget the budget")
    assert free.session.constraints.max_price is None and free.session.constraints.article_type == (kind,)


@pytest.mark.parametrize("zh", [False, True])
def test_exclude_one_go_back_and_start_over(assistant: Assistant, slice_rows: list[dict], zh: bool) -> None:
    first, _, _ = start(assistant, slice_rows, zh)
    third = first.cards[2]["id"]
    gone = assistant.message(first.session, "不要第三个" if zh else "I don't want the third one")
    assert gone.ok and third not in {p["id"] for p in gone.cards} and third in gone.session.dislikes
    cheaper = assistant.message(gone.session, "便宜一点" if zh else "cheaper")
    assert cheaper.ok and cheaper.session.constraints.max_price is not None
    back = assistant.message(cheaper.session, "回到上一步" if zh else "go back")
    assert back.ok and back.session.constraints.max_price is None
    assert [p["id"] for p in back.cards] == [p["id"] for p in gone.cards]
    fresh = assistant.message(back.session, "重新开始" if zh else "start over")
    assert fresh.session == Session(language=fresh.session.language) and not fresh.cards


@pytest.mark.parametrize("zh", [False, True])
def test_a_new_subject_keeps_who_it_is_for_and_drops_the_rest(assistant: Assistant, slice_rows: list[dict],
                                                              zh: bool) -> None:
    first, kind, gender = start(assistant, slice_rows, zh)
    capped = assistant.message(first.session, "3000元以下" if zh else "under 3000")
    other = next(k for k in top([r for r in slice_rows if r["gender"] == gender], lambda r: r["article_type"], 5)
                 if k != kind and sum(r["article_type"] == k and r["gender"] in (gender, "Unisex") for r in slice_rows) >= 12)
    switched = assistant.message(capped.session, f"现在给我看看{zh_name(other)}" if zh else f"now show me {other.lower()}")
    c = switched.session.constraints
    assert switched.ok and c.article_type == (other,) and c.max_price is None and gender in c.gender
    assert all(p["article_type"] == other for p in switched.cards)


def test_an_impossible_facet_is_relaxed_and_stays_relaxed(assistant: Assistant, slice_rows: list[dict]) -> None:
    """Nothing in the catalog meets every asked facet: the reply says what was left out, the chips show what is
    kept, and the next turn refines that (never an empty answer while the catalog has matches)."""
    kinds = {r["article_type"] for r in slice_rows}
    colours = Counter(r["base_colour"] for r in slice_rows)
    kind = top(slice_rows, lambda r: r["article_type"])[0]
    missing = next(c for c, _ in colours.most_common() if not any(r["article_type"] == kind and r["base_colour"] == c
                                                                  for r in slice_rows))
    first = assistant.message(Session(), f"{missing.lower()} {kind}")
    assert first.ok and first.cards and "left out the colour" in first.text
    assert first.session.constraints.colour == () and first.session.constraints.article_type == (kind,)
    cheaper = assistant.message(first.session, "cheaper")
    assert cheaper.ok and cheaper.cards and all(p["article_type"] == kind for p in cheaper.cards)
    assert kinds  # the slice has more than one kind


def test_the_dialogue_benchmark_plays_the_app_conversation(assistant: Assistant, slice_rows: list[dict],
                                                           tmp_path: Path) -> None:
    """`dialogues.play` drives the same Assistant: one line per dialogue, results best first (the cards on
    screen first), a reply and a latency per turn; a photo path relative to the file."""
    from assistant.dialogues import load_dialogues, play

    triple = top(slice_rows, lambda r: (r["article_type"], r["gender"], r["base_colour"]))[0]
    row = next(r for r in slice_rows if (r["article_type"], r["gender"], r["base_colour"]) == triple)
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "p.jpg").write_bytes((FASHION / row["image"]).read_bytes())
    (tmp_path / "d.jsonl").write_text(json.dumps({"did": "d1", "turns": [
        {"image": "media/p.jpg"}, {"text": "show me more"}, {"text": "cheaper"}]}) + "\n")
    d = load_dialogues(tmp_path / "d.jsonl")[0]
    line = play(Assistant(assistant.engine, depth=30), d, top_k=30)
    assert line["did"] == "d1" and len(line["turns"]) == 3
    first, more, cheaper = line["turns"]
    assert len(first["results"]) > 5 and first["reply"].startswith("Your photo looks like")
    assert all(t["latency_ms"] > 0 and "error" not in t for t in line["turns"])
    if len(first["results"]) > 12:  # a next page exists: none of the first page again
        assert more["results"] and not set(more["results"][:12]) & set(first["results"][:12])
    else:
        assert more["reply"].startswith("That's everything") and more["results"] == first["results"]
    assert cheaper["reply"].startswith("Here are cheaper ones")
