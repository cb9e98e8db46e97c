"""The shop around the chat, without a browser: questions about a product (the question set and the chat turn),
sort, the `?q=` link, similar by style, the product page and comparison markup, and the photo / page routes
(resized, cacheable, only indexed products)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from assistant.catalog import read_catalog
from assistant.config import DEMO_CATALOG
from assistant.product_qa import NO, QUESTION_SETS, UNKNOWN, YES, about, answer, english, score
from assistant.session import Session, discount, sort_cards
from assistant.ui import Assistant, EngineLoader, compare_html, is_audio, product_page_html
from assistant.ui.routes import shop_routes
from assistant.understanding import CJK

SHIRT = {"id": "1", "title": "Acme Men Blue Shirt", "brand": "Acme", "gender": "Men", "base_colour": "Blue",
         "colours": ["Blue", "White"], "price": 1000.0, "sale_price": 800.0, "sizes": ["S", "M", "L"],
         "attributes": {"Fit": "Slim Fit", "Sleeve Length": "Long Sleeves", "Fabric": "Cotton"},
         "description": "Composition\nBlue shirt made of 100% cotton, has two chest pockets\nWash care\n"
                        "Machine wash cold\nDo not bleach\nWarm iron"}


# ------------------------------------------------------------------------------------------------
# questions about a product
# ------------------------------------------------------------------------------------------------
def test_both_question_sets_are_answered_from_each_products_own_data() -> None:
    """The dev set (30 products) and the held-out one (other products), English and Chinese."""
    dev, heldout = ([json.loads(line) for line in path.read_text().splitlines() if line.strip()] for path in QUESTION_SETS)
    assert len(dev) >= 120 and len({q["product"] for q in dev}) == 30
    assert len(heldout) >= 60 and len({q["product"] for q in heldout}) >= 20
    assert not {q["product"] for q in dev} & {q["product"] for q in heldout}
    products = {p.id: p.to_row() for p in read_catalog(DEMO_CATALOG).products}
    for questions in (dev, heldout):
        assert sum(bool(CJK.search(q["question"])) for q in questions) >= 30  # English and Chinese
        assert {q["expect"] for q in questions} == {"yes", "no", "info", "unknown"}
        accuracy, wrong = score(questions, products)
        assert accuracy >= 0.9, [(q["question"], a.text) for q, a in wrong]


def test_answers_quote_the_product_and_say_when_the_catalog_does_not_tell() -> None:
    washable = answer("is it machine washable?", SHIRT)
    assert washable.verdict == YES and "Machine wash cold" in washable.text
    assert answer("can I bleach it?", SHIRT).verdict == NO
    assert answer("does it come in M?", SHIRT).verdict == YES
    xl = answer("do you have it in XL?", SHIRT)
    assert xl.verdict == NO and "S, M, L" in xl.text
    assert answer("does it come in white?", SHIRT).verdict == YES
    assert answer("is it slim fit?", SHIRT).verdict == YES
    assert "cotton" in answer("what is it made of?", SHIRT).text.lower()
    assert answer("does it have pockets?", SHIRT).verdict == YES
    for unknown in ("is it waterproof?", "can I tumble dry it?"):
        got = answer(unknown, SHIRT)
        assert got.verdict == UNKNOWN and "doesn't say" in got.text, got
    bare = {"id": "2", "title": "Plain", "description": "", "attributes": {}, "sizes": []}
    assert answer("what is it made of?", bare).verdict == UNKNOWN
    assert answer("what sizes are there?", bare).verdict == UNKNOWN


def test_answers_read_the_catalog_as_a_shopper_means_it() -> None:
    """What the held-out set's first run missed, on made-up products (fixed for any wording)."""
    vest = {"id": "3", "attributes": {"Transparency": "Opaque", "Fabric": "Blended"}, "sizes": ["S", "M"],
            "description": "Composition\nSleeveless vest made of 70% cotton and 30% polyester, slip-on style\n"
                           "Faux leather straps with a tang clasp\nTPR outsole\nLength\nFreesize\n"
                           "Padded laptop compartment\nWash care\nDelicate machine/hand wash\nDo not wash in hot water"}
    assert answer("is it see-through?", vest).verdict == NO and answer("is it opaque?", vest).verdict == YES
    sleeves = answer("does it have sleeves?", vest)
    assert sleeves.verdict == NO and "Sleeveless" in sleeves.text
    laces = answer("are these lace-ups?", vest)
    assert laces.verdict == NO and "slip-on" in laces.text
    assert answer("will my laptop fit in it?", vest).verdict == YES
    assert answer("can it go in the washing machine?", vest).verdict == YES  # machine/hand wash
    assert "polyester" in answer("what fabric is it?", vest).text  # the composition, not just "Blended"
    assert "tang clasp" in answer("what kind of buckle does it have?", vest).text
    strap = answer("what are the straps made of?", vest)
    assert "Faux leather straps" in strap.text and "TPR" in answer("what is the sole made of?", vest).text
    assert answer("are the straps real leather?", vest).verdict == NO
    assert "Freesize" in answer("how long is it?", vest).text
    assert answer("how high are the heels on this pair?", vest).verdict == UNKNOWN
    assert answer("does it come in 4 years?", {"id": "4", "sizes": ["2Y", "4Y"]}).verdict == YES


def test_chinese_questions_are_answered_in_chinese_quoting_the_catalog() -> None:
    washable = answer("第三个可以机洗吗？", SHIRT)
    assert washable.verdict == YES and washable.text.startswith("可以") and "Machine wash cold" in washable.text
    assert answer("能漂白吗", SHIRT).verdict == NO
    m, xl = answer("第二个有M码吗", SHIRT), answer("它有XL码吗", SHIRT)
    assert m.verdict == YES and xl.verdict == NO and "S, M, L" in xl.text and xl.text.startswith("没有")
    made = answer("它是什么材质的", SHIRT)
    assert made.text.startswith("目录上写着：") and "cotton" in made.text.lower()
    assert answer("这件是纯棉的吗", SHIRT).verdict == YES
    assert answer("这件有白色吗", SHIRT).verdict == YES and answer("它是黑色的吗", SHIRT).verdict == NO
    assert answer("这件是修身的吗", SHIRT).verdict == YES and answer("是不是宽松的", SHIRT).verdict == NO
    assert answer("它是长袖吗", SHIRT).verdict == YES and answer("它有口袋吗", SHIRT).verdict == YES
    assert answer("这件打折吗", SHIRT).verdict == YES and "₹800" in answer("这个多少钱", SHIRT).text
    assert answer("它是男款吗", SHIRT).verdict == YES and "Acme" in answer("这件是什么牌子的", SHIRT).text
    for unknown in ("它防水吗", "这件能烘干吗"):
        got = answer(unknown, SHIRT)
        assert got.verdict == UNKNOWN and got.text.startswith("目录里没有写"), got
    assert answer("它是什么材质的", {"id": "2", "description": ""}).text == "目录里没有写它是什么材质。"
    assert english("第二个有M码吗") == "is it size m" and english("它是什么材质的") == "what material"


def test_questions_are_told_from_requests_for_other_products() -> None:
    for q in ("is #3 machine washable?", "does the second one come in M?", "what is it made of?",
              "does it have pockets?", "is it for women?", "how high is its heel?",
              "第三个可以机洗吗？", "第二个有M码吗", "它是什么材质的", "#3 可以机洗吗", "这双鞋跟多高", "这件有白色吗"):
        assert about(q), q
    for q in ("more like the second one", "not the third one", "cheaper", "in blue", "show me red dresses",
              "do you have something in blue?", "blue jeans for men", "any other colours like this?",
              "do you have blue ones", "are there any in size M?",
              "这件有没有蓝色的", "有没有便宜一点的", "这件能便宜些吗", "和第二个类似的", "不要第三个", "蓝色的连衣裙",
              "有没有M码的"):
        assert not about(q), q


# ------------------------------------------------------------------------------------------------
# the conversation on the slice (engine fixture)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(engine) -> Assistant:
    return Assistant(engine)


@pytest.fixture(scope="module")
def searched(assistant: Assistant, slice_rows: list[dict]) -> Session:
    """A search for the slice's commonest kind of product, with a full page of cards."""
    from collections import Counter

    kind = Counter(r["article_type"] for r in slice_rows).most_common(1)[0][0]
    reply = assistant.message(Session(), kind)
    assert len(reply.cards) >= 6
    return reply.session


def test_a_question_about_a_card_is_answered_from_its_own_data(assistant: Assistant, searched: Session) -> None:
    second = searched.shown[1]
    reply = assistant.message(searched, "is #2 machine washable?")
    assert reply.ok and not reply.changed  # the cards stay
    assert reply.text.startswith(f"#2 “{second['title']}”: ")
    details = assistant.engine.details(second["id"])
    assert reply.text.endswith(answer("is #2 machine washable?", details).text)
    assert reply.session.focus == second["id"] and reply.session.shown == searched.shown
    made = assistant.message(reply.session, "what is it made of?")  # "it": the product asked about
    assert made.text.startswith(f"#2 “{second['title']}”: ")
    opened = assistant.card_action(searched, "open", searched.shown[4]["id"])  # its page opened
    assert not opened.text and opened.session.focus == searched.shown[4]["id"]
    assert assistant.message(opened.session, "what sizes does it come in?").text.startswith("#5 ")
    assert "Which one?" in assistant.message(Session(shown=searched.shown), "what is it made of?").text


def test_a_chinese_question_is_answered_in_chinese_and_a_chinese_refinement_still_refines(
        assistant: Assistant, searched: Session) -> None:
    third = searched.shown[2]
    reply = assistant.message(searched, "第三个可以机洗吗？")
    assert reply.ok and not reply.changed and reply.session.shown == searched.shown
    said = answer("第三个可以机洗吗？", assistant.engine.details(third["id"]))
    assert reply.text == f"#3 “{third['title']}”: {said.text}" and CJK.search(said.text)
    made = assistant.message(reply.session, "它是什么材质的")  # 它: the product asked about
    assert made.text.startswith(f"#3 “{third['title']}”: ") and not made.changed and CJK.search(made.text)
    assert "请说它的编号" in assistant.message(Session(shown=searched.shown), "它是什么材质的").text
    cheaper = assistant.message(made.session, "有没有便宜一点的")  # about the cards as a group: a refinement
    assert cheaper.changed and cheaper.session.constraints.max_price is not None, cheaper.text
    assert cheaper.text.startswith(("更便宜的", "这些已经是最便宜的")), cheaper.text
    blue = assistant.message(made.session, "这件有没有蓝色的")  # another product in blue, not a question about #3
    assert blue.changed and any("Blue" in c for c in blue.session.constraints.colour), blue.text


def test_sort_orders_the_page_and_stays(assistant: Assistant, searched: Session) -> None:
    low = assistant.set_sort(searched, "price_asc")
    prices = [p["sale_price"] for p in low.cards]
    assert low.ok and low.changed and prices == sorted(prices) and low.session.sort == "price_asc"
    assert min(prices) <= min(p["sale_price"] for p in searched.shown)  # the cheapest of a wider pool
    high = assistant.set_sort(searched, "price_desc")
    assert [p["sale_price"] for p in high.cards] == sorted((p["sale_price"] for p in high.cards), reverse=True)
    off = assistant.set_sort(searched, "discount")
    assert [discount(p) for p in off.cards] == sorted((discount(p) for p in off.cards), reverse=True)
    more = assistant.message(low.session, "show more")
    assert [p["sale_price"] for p in more.cards] == sorted(p["sale_price"] for p in more.cards)
    assert not assistant.set_sort(searched, "nonsense").ok
    anew = assistant.message(low.session, searched.text)  # a new request: the order the shopper chose holds
    assert anew.session.sort == "price_asc" and [p["sale_price"] for p in anew.cards] == sorted(
        p["sale_price"] for p in anew.cards)
    cards = [{"id": "a", "sale_price": 5.0}, {"id": "b", "sale_price": None}, {"id": "c", "sale_price": 1.0}]
    assert [c["id"] for c in sort_cards(cards, "price_asc")] == ["c", "a", "b"]  # unknown prices last
    assert [c["id"] for c in sort_cards(cards, "price_desc")] == ["a", "c", "b"]


def test_the_link_asks_for_the_same_search_again(assistant: Assistant, searched: Session) -> None:
    cheaper = assistant.message(searched, "cheaper").session
    for s in (searched, cheaper):
        again = assistant.message(Session(), s.link_query()).session
        assert again.constraints == s.constraints, (s.link_query(), again.constraints, s.constraints)


def test_similar_by_style_keeps_the_kind_and_leaves_out_the_photo(assistant: Assistant, searched: Session) -> None:
    target = searched.shown[0]
    reply = assistant.card_action(searched, "style", target["id"])
    assert reply.ok and reply.cards and reply.user == "Same style as #1"
    assert target["id"] not in {p["id"] for p in reply.cards}
    assert all(p["article_type"] == target["article_type"] for p in reply.cards)
    assert reply.session.photo_path == ""
    look = assistant.card_action(searched, "similar", target["id"])
    assert look.ok and look.session.photo_path == target["image"]


# ------------------------------------------------------------------------------------------------
# the product page, the comparison and the routes that serve them
# ------------------------------------------------------------------------------------------------
def test_product_page_and_comparison_markup() -> None:
    page = product_page_html({**SHIRT, "title": "<b>Acme</b> Shirt", "article_type": "Shirts"})
    assert "&lt;b&gt;Acme&lt;/b&gt; Shirt" in page and "<b>Acme</b>" not in page
    for part in ("shop/photo/page/1.jpg", "₹800", "20% off", "Slim Fit", "Long Sleeves", "Machine wash cold",
                 'data-action="similar"', 'data-action="style"', 'data-action="like"', 'data-action="dislike"',
                 "data-shortlist", "data-ask", "Blue / White", 'data-action="tryon"'):
        assert part in page, part
    assert 'data-action="tryon"' not in product_page_html({**SHIRT, "article_type": "Jeans"})  # tops only
    assert page.count('class="sa-size"') == 3
    other = {**SHIRT, "id": "2", "sizes": ["M"], "attributes": {"Fit": "Regular Fit", "Neck": "Round Neck"}}
    table = compare_html([SHIRT, other])
    for part in ("Compare 2 products", "Slim Fit", "Regular Fit", "Round Neck", "S, M, L", "Sizes", "Colour", "Price"):
        assert part in table, part
    assert 'style="--sa-n:2"' in table  # a phone lays the values out in as many columns
    assert ">NA<" not in compare_html([{**SHIRT, "base_colour": "NA", "colours": []}, other])  # the catalog's blank
    assert "Pick 2 to 4" in compare_html([SHIRT]) and "Pick 2 to 4" in compare_html([SHIRT] * 5)


@pytest.fixture(scope="module")
def client(engine) -> TestClient:
    loader = EngineLoader(lambda: engine, warm_speech=False).start()
    assert loader.wait(60) is engine
    return TestClient(Starlette(routes=shop_routes(loader)))


def test_photos_are_resized_cacheable_and_only_of_indexed_products(client: TestClient, engine) -> None:
    import io

    from PIL import Image

    pid = next(iter(engine.index.metadata()))
    sizes = {}
    for size in ("thumb", "card", "page"):
        r = client.get(f"/shop/photo/{size}/{pid}.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert "max-age=" in r.headers["cache-control"] and r.headers["etag"]
        sizes[size] = max(Image.open(io.BytesIO(r.content)).size)
        again = client.get(f"/shop/photo/{size}/{pid}.jpg", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
    s = engine.settings
    assert sizes["thumb"] <= s.photo_thumb_side and sizes["card"] <= s.photo_card_side <= s.photo_page_side
    assert sizes["thumb"] < sizes["card"]
    for bad in ("/shop/photo/card/nope.jpg", "/shop/photo/huge/" + pid + ".jpg", "/shop/photo/card/..%2F..%2Fetc%2Fpasswd.jpg"):
        assert client.get(bad).status_code == 404, bad


def test_product_page_and_comparison_routes(client: TestClient, engine) -> None:
    ids = list(engine.index.metadata())[:3]
    page = client.get(f"/shop/product/{ids[0]}")
    assert page.status_code == 200 and engine.index.metadata()[ids[0]]["title"].split()[0] in page.text
    assert client.get("/shop/product/nope").status_code == 404
    table = client.get("/shop/compare", params={"ids": ",".join(ids)})
    assert table.status_code == 200 and "Compare 3 products" in table.text


# ------------------------------------------------------------------------------------------------
# voice notes as people have them
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix,args", [(".webm", ()), (".ogg", ()), (".opus", ()), (".m4a", ()), (".mp3", ()),
                                         (".wav", ()), (".aac", ()), (".3gp", ("-c:a", "aac", "-ar", "16000"))])
def test_every_voice_note_format_is_attachable_and_decodes(suffix: str, args: tuple[str, ...], tmp_path: Path) -> None:
    from conftest import say

    from assistant.speech import decode_audio
    from assistant.ui.uploads import ATTACHABLE

    clip = say("black heels", tmp_path / f"note{suffix}", ffmpeg_args=args).read_bytes()
    assert suffix in ATTACHABLE  # the chat box takes it (browsers call .webm and .3gp video/…)
    assert is_audio(f"blob{suffix}", clip) and is_audio("blob", clip)  # told from a photo by its bytes
    audio, _ = decode_audio(clip, 30.0)
    assert 0.6 * 16_000 < len(audio) < 3 * 16_000
