"""Request understanding against a small vocabulary: prices (English and Chinese), gender, colour, type, brand,
usage, and refusals ("not black")."""

from __future__ import annotations

import pytest

from assistant.understanding import Vocabulary, en_numerals, speech_spellings, understand, zh_numerals

VALUES = {
    "gender": {"Men": 10, "Women": 10, "Unisex": 3, "Boys": 2, "Girls": 2},
    "article_type": {"Heels": 5, "Shirts": 9, "Tshirts": 9, "Casual Shoes": 4, "Sports Shoes": 4, "Formal Shoes": 2,
                     "Handbags": 3, "Jeans": 4, "Watches": 5, "Kurtas": 3, "Flats": 2},
    "base_colour": {"Black": 9, "Red": 4, "Navy Blue": 3, "Blue": 5, "White": 6, "Grey": 2},
    "brand": {"Nike": 4, "Puma": 3, "Catwalk": 2, "United Colors of Benetton": 2},
    "usage": {"Casual": 20, "Formal": 5, "Sports": 6},
    "category": {"Apparel": 20, "Footwear": 10},
}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary(VALUES)


@pytest.mark.parametrize(("query", "lo", "hi"), [
    ("black heels under 1500", None, 1500),
    ("shirts below 2000", None, 2000),
    ("a watch less than 999 rupees", None, 999),
    ("jeans, my budget is 3000", None, 3000),
    ("budget 2500", None, 2500),
    ("shoes between 500 and 1000", 500, 1000),
    ("between ₹500 and ₹1000", 500, 1000),
    ("kurtas under ₹800", None, 800),
    ("under rs. 1,500", None, 1500),
    ("tshirts under 2k", None, 2000),
    ("tshirts under 1.5k", None, 1500),
    ("from 1k to 2k", 1000, 2000),
    ("500-1000 rs", 500, 1000),
    ("watches over 5000", 5000, None),
    ("鞋子1000元以下", None, 1000),
    ("1000元以下的鞋", None, 1000),
    ("500到1000元的衬衫", 500, 1000),
    ("两千元以下的手表", None, 2000),
    ("一千五百元以下", None, 1500),
    ("预算800元", None, 800),
    ("800块以内", None, 800),
    ("1000元以上", 1000, None),
    ("tops under a thousand", None, 1000),
    ("nothing above two thousand five hundred", None, 2500),
    ("fifteen hundred max", None, 1500),
    ("watches over 1.5 thousand", 1500, None),
])
def test_prices(vocab: Vocabulary, query: str, lo: float | None, hi: float | None) -> None:
    u = understand(query, vocab)
    assert (u.min_price, u.max_price) == (lo, hi)
    assert not any(ch.isdigit() for ch in u.search_text), u.search_text  # the price is not searched as words


def test_price_range_with_leading_currency_signs(vocab: Vocabulary) -> None:
    u = understand("₹500 - ₹1000 bags", vocab)
    assert (u.min_price, u.max_price) == (500, 1000)


def test_no_price_means_no_limit(vocab: Vocabulary) -> None:
    u = understand("size 42 black shoes", vocab)
    assert (u.min_price, u.max_price) == (None, None)


@pytest.mark.parametrize(("query", "facets"), [
    ("black heels for women", {"gender": {"Women"}, "base_colour": {"Black"}, "article_type": {"Heels"}}),
    ("men's navy blue shirt", {"gender": {"Men"}, "base_colour": {"Navy Blue"}, "article_type": {"Shirts"}}),
    ("Red T-Shirts for ladies", {"gender": {"Women"}, "base_colour": {"Red"}, "article_type": {"Tshirts"}}),
    ("white tees for him", {"gender": {"Men"}, "base_colour": {"White"}, "article_type": {"Tshirts"}}),
    ("grey watch for boys", {"gender": {"Boys"}, "base_colour": {"Grey"}, "article_type": {"Watches"}}),
    ("puma sneakers", {"brand": {"Puma"}, "article_type": {"Casual Shoes", "Sports Shoes"}}),
    ("united colors of benetton tshirt", {"brand": {"United Colors of Benetton"}, "article_type": {"Tshirts"}}),
    ("formal shirts", {"usage": {"Formal"}, "article_type": {"Shirts"}}),
    ("男士白色衬衫", {"gender": {"Men"}, "base_colour": {"White"}, "article_type": {"Shirts"}}),
    ("女士黑色高跟鞋", {"gender": {"Women"}, "base_colour": {"Black"}, "article_type": {"Heels"}}),
    ("红色手提包", {"base_colour": {"Red"}, "article_type": {"Handbags"}}),
    ("Nike 黑色运动鞋", {"brand": {"Nike"}, "base_colour": {"Black"}, "article_type": {"Sports Shoes"}}),
    ("给男朋友的手表", {"gender": {"Men"}, "article_type": {"Watches"}}),
])
def test_facets(vocab: Vocabulary, query: str, facets: dict[str, set[str]]) -> None:
    u = understand(query, vocab)
    got = {f: set(v) - {"Unisex"} for f, v in u.facets.items()}  # Men / Women also admit Unisex products
    assert got == facets
    if "gender" in facets and facets["gender"] & {"Men", "Women"}:
        assert "Unisex" in u.facets["gender"]
    assert u.language == ("zh" if any("\u3400" <= ch <= "\u9fff" for ch in query) else "en")


def test_facets_with_price_in_chinese(vocab: Vocabulary) -> None:
    u = understand("两千元以下的男士黑色衬衫", vocab)
    assert u.max_price == 2000
    assert u.facets["base_colour"] == ("Black",) and u.facets["article_type"] == ("Shirts",)
    assert "Men" in u.facets["gender"]


@pytest.mark.parametrize(("query", "facets", "excluded"), [
    ("shirts not black", {"article_type": {"Shirts"}}, {"base_colour": {"Black"}}),
    ("heels without black", {"article_type": {"Heels"}}, {"base_colour": {"Black"}}),
    ("nike shoes but not red", {"brand": {"Nike"}}, {"base_colour": {"Red"}}),
    ("no white shirts", {"article_type": {"Shirts"}}, {"base_colour": {"White"}}),
    ("tshirts, anything but puma", {"article_type": {"Tshirts"}}, {"brand": {"Puma"}}),
    ("I don't want red shirts", {"article_type": {"Shirts"}}, {"base_colour": {"Red"}}),
    ("heels, not a fan of Catwalk", {"article_type": {"Heels"}}, {"brand": {"Catwalk"}}),
    ("I'd rather not have Puma shoes", {}, {"brand": {"Puma"}}),
    ("shirts, Puma? no thanks", {"article_type": {"Shirts"}}, {"brand": {"Puma"}}),  # after what it refuses
    ("不要耐克的运动鞋", {"article_type": {"Sports Shoes"}}, {"brand": {"Nike"}}),
    ("运动鞋，耐克的不要", {"article_type": {"Sports Shoes"}}, {"brand": {"Nike"}}),
    ("运动鞋，彪马的就算了", {"article_type": {"Sports Shoes"}}, {"brand": {"Puma"}}),
    ("耐克的不要，换成黑色的", {"base_colour": {"Black"}}, {"brand": {"Nike"}}),
    ("黑色的，不喜欢耐克", {"base_colour": {"Black"}}, {"brand": {"Nike"}}),
])
def test_refusals(vocab: Vocabulary, query: str, facets: dict[str, set[str]], excluded: dict[str, set[str]]) -> None:
    u = understand(query, vocab)
    assert {f: set(v) for f, v in u.excluded.items()} == excluded
    for facet, values in facets.items():
        assert values <= set(u.facets[facet])
    for facet, values in excluded.items():
        assert not values & set(u.facets.get(facet, ()))  # what is refused is not also asked for
        assert all(v.lower() not in u.search_text.lower() for v in values)
    assert u.negative_text


def test_negation_covers_only_the_next_thing(vocab: Vocabulary) -> None:
    u = understand("not black but red heels", vocab)
    assert u.excluded == {"base_colour": ("Black",)}
    assert u.facets["base_colour"] == ("Red",) and u.facets["article_type"] == ("Heels",)


@pytest.mark.parametrize(("query", "facets", "excluded"), [
    ("黑色不要耐克", {"base_colour": ("Black",)}, {"brand": ("Nike",)}),  # a refusal before a thing refuses that one
    ("blue not black", {"base_colour": ("Blue",)}, {"base_colour": ("Black",)}),  # English refuses what follows
    ("算了，要黑色的", {"base_colour": ("Black",)}, {}),  # "never mind" with nothing before it refuses nothing
])
def test_a_refusal_refuses_the_right_thing(vocab: Vocabulary, query: str, facets: dict, excluded: dict) -> None:
    u = understand(query, vocab)
    assert (u.facets, u.excluded) == (facets, excluded)


def test_words_outside_the_vocabulary_are_kept_for_search(vocab: Vocabulary) -> None:
    u = understand("a bag for a weekend trip", vocab)
    assert "weekend" in u.search_text and "trip" in u.search_text
    assert u.max_price is None and "base_colour" not in u.facets


def test_chips(vocab: Vocabulary) -> None:
    u = understand("women's black heels between 500 and 1500 not red", vocab)
    chips = u.chips()
    assert "price: 500–1500" in chips
    assert "colour: Black" in chips and "not colour: Red" in chips


def test_chinese_numerals() -> None:
    assert zh_numerals("两千") == "2000"
    assert zh_numerals("一千五百") == "1500"
    assert zh_numerals("一千五") == "1500"
    assert zh_numerals("三百") == "300"
    assert zh_numerals("十五") == "15"


def test_english_amounts_in_words() -> None:
    assert en_numerals("under a thousand") == "under 1000"
    assert en_numerals("below two thousand five hundred please") == "below 2500 please"
    assert en_numerals("nothing above four hundred and fifty") == "nothing above 450"
    assert en_numerals("under a grand") == "under 1000"
    assert en_numerals("two shirts and a cap") == "two shirts and a cap"  # no amount without a scale word


def test_speech_is_written_as_the_catalog_spells() -> None:
    """A word spelt two ways is written the catalog's way: its "Grey" and "United Colors of Benetton" here."""
    spellings = speech_spellings(Vocabulary(VALUES))
    assert spellings["gray"] == "grey" and spellings["colours"] == "colors" and "grey" not in spellings
    american = speech_spellings(Vocabulary({"base_colour": {"Gray": 2}}))
    assert american["grey"] == "gray" and "gray" not in american
    assert american["greys"] == "grays" and american["colours"] == "colors"  # words it does not use: its way
