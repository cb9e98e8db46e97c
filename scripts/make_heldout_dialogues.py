"""Write eval/dialogues-heldout/dialogues.jsonl and eval/dialogues-heldout-b/dialogues.jsonl: shopping conversations
in other wordings than the dev dialogues and than the follow-up model's training templates (never used to tune
either), in the dev format (`must` per turn, scored by ../shared/tools/score_dialogues.py), plus their spoken turns
(espeak-ng, 16 kHz).

usage: python scripts/make_heldout_dialogues.py   (checks every turn has at least 10 catalog matches)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
SHARED = ROOT.parent / "shared"
PHOTOS = "../../../shared/eval/fashion-dev/media"  # relative to each set's folder
MEN, WOMEN = ["Men", "Unisex"], ["Unisex", "Women"]

# (did, lang, [(turn, must, intents), ...]); a turn is text, {"image"/"audio": …, "text"?: …}
DIALOGUES: list[tuple[str, str, list[tuple[object, dict, list[str]]]]] = [
    ("held-01", "en", [
        ("red t-shirts for men", {"gender": MEN, "article_type": ["Tshirts"], "base_colour": ["Red"]}, ["start"]),
        ("hmm, any colour is fine", {"gender": MEN, "article_type": ["Tshirts"]}, ["colour", "drop"]),
        ("nothing above 400", {"gender": MEN, "article_type": ["Tshirts"], "max_price": 400}, ["price", "cap"])]),
    ("held-02", "en", [
        ("women's handbags", {"gender": WOMEN, "article_type": ["Handbags"]}, ["start"]),
        ("could I see black ones", {"gender": WOMEN, "article_type": ["Handbags"], "base_colour": ["Black"]}, ["colour"]),
        ("keep it below 1k", {"gender": WOMEN, "article_type": ["Handbags"], "base_colour": ["Black"],
                              "max_price": 1000}, ["price"]),
        ("let me see a few others", {"gender": WOMEN, "article_type": ["Handbags"], "base_colour": ["Black"],
                                     "max_price": 1000, "not_ids_from_turn": 2}, ["more"])]),
    ("held-03", "en", [
        ("sports shoes for men", {"gender": MEN, "article_type": ["Sports Shoes"]}, ["start"]),
        ("they're actually for my sister", {"gender": WOMEN, "article_type": ["Sports Shoes"]}, ["gender"]),
        ("white would be good", {"gender": WOMEN, "article_type": ["Sports Shoes"], "base_colour": ["White"]}, ["colour"]),
        ("under 4500 please", {"gender": WOMEN, "article_type": ["Sports Shoes"], "base_colour": ["White"],
                               "max_price": 4500}, ["price"])]),
    ("held-04", "en", [
        ("casual shoes for men under 2000", {"gender": MEN, "article_type": ["Casual Shoes"], "max_price": 2000}, ["start"]),
        ("I'd rather have sandals", {"gender": MEN, "article_type": ["Sandals"], "max_price": 2000}, ["type"]),
        ("brown ones?", {"gender": MEN, "article_type": ["Sandals"], "max_price": 2000, "base_colour": ["Brown"]},
         ["colour"])]),
    ("held-05", "en", [
        ("men's watches", {"gender": MEN, "article_type": ["Watches"]}, ["start"]),
        ("no Fastrack please", {"gender": MEN, "article_type": ["Watches"], "not_brand": ["Fastrack"]}, ["brand"]),
        ("what else have you got", {"gender": MEN, "article_type": ["Watches"], "not_brand": ["Fastrack"],
                                    "not_ids_from_turn": 1}, ["more"])]),
    ("held-06", "en", [
        ("kurtas for women", {"gender": WOMEN, "article_type": ["Kurtas"]}, ["start"]),
        ("it's for a wedding", {"gender": WOMEN, "article_type": ["Kurtas"], "usage": ["Ethnic"]}, ["usage"]),
        ("at least 800", {"gender": WOMEN, "article_type": ["Kurtas"], "usage": ["Ethnic"], "min_price": 800},
         ["price", "floor"])]),
    ("held-07", "en", [
        ("blue jeans for men", {"gender": MEN, "article_type": ["Jeans"], "base_colour": ["Blue"]}, ["start"]),
        ("I really like the third one, got similar?", {"gender": MEN, "same_type_as_result": [0, 3]}, ["similar"]),
        ("those cost too much", {"gender": MEN, "same_type_as_result": [0, 3], "cheaper_than_turn": 1}, ["price"])]),
    ("held-08", "en", [
        ({"image": f"{PHOTOS}/photo-0008.jpg"}, {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Navy Blue"]},
         ["photo"]),
        ("same thing but in white", {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["White"]},
         ["photo", "colour"]),
        ("nothing over 1500", {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["White"], "max_price": 1500},
         ["price", "cap"])]),
    ("held-09", "en", [
        ({"image": f"{PHOTOS}/shopper-0008.jpg"}, {"gender": MEN, "article_type": ["Tshirts"], "base_colour": ["Green"]},
         ["photo"]),
        ("any cheaper?", {"gender": MEN, "article_type": ["Tshirts"], "base_colour": ["Green"], "cheaper_than_turn": 0},
         ["price"])]),
    ("held-10", "en", [
        ("tops for women", {"gender": WOMEN, "article_type": ["Tops"]}, ["start"]),
        ("I want it in pink", {"gender": WOMEN, "article_type": ["Tops"], "base_colour": ["Pink"]}, ["colour"]),
        ("let's start again with men's socks", {"gender": MEN, "article_type": ["Socks"]}, ["reset", "switch"])]),
    ("held-11", "en", [
        ("men's track pants", {"gender": MEN, "article_type": ["Track Pants"]}, ["start"]),
        ("Puma ones only", {"gender": MEN, "article_type": ["Track Pants"], "brand": ["Puma"]}, ["brand"]),
        ("can I go any cheaper?", {"gender": MEN, "article_type": ["Track Pants"], "brand": ["Puma"],
                                   "cheaper_than_turn": 1}, ["price"])]),
    ("held-12", "en", [
        ("women's heels under 1000", {"gender": WOMEN, "article_type": ["Heels"], "max_price": 1000}, ["start"]),
        ("I can stretch to 2500 now", {"gender": WOMEN, "article_type": ["Heels"], "max_price": 2500}, ["price", "budget"]),
        ("black please", {"gender": WOMEN, "article_type": ["Heels"], "max_price": 2500, "base_colour": ["Black"]},
         ["colour"])]),
    ("held-13", "en", [
        ("formal shirts for men", {"gender": MEN, "article_type": ["Shirts"], "usage": ["Formal"]}, ["start"]),
        ("ok now show me some t-shirts", {"gender": MEN, "article_type": ["Tshirts"]}, ["switch"]),
        ("grey", {"gender": MEN, "article_type": ["Tshirts"], "base_colour": ["Grey"]}, ["colour"])]),
    ("held-14", "en", [
        ("men's belts", {"gender": MEN, "article_type": ["Belts"]}, ["start"]),
        ("in brown", {"gender": MEN, "article_type": ["Belts"], "base_colour": ["Brown"]}, ["colour"]),
        ("actually, go back to what you showed before", {"gender": MEN, "article_type": ["Belts"]}, ["back"])]),
    ("held-15", "en", [
        ("women's sunglasses under 2500", {"gender": WOMEN, "article_type": ["Sunglasses"], "max_price": 2500}, ["start"]),
        ("price isn't important", {"gender": WOMEN, "article_type": ["Sunglasses"]}, ["price", "drop"]),
        ("brown would be nice", {"gender": WOMEN, "article_type": ["Sunglasses"], "base_colour": ["Brown"]}, ["colour"])]),
    ("held-16", "en", [
        ({"audio": "media/held-16-0.wav", "spoken": "casual shoes for men"},
         {"gender": MEN, "article_type": ["Casual Shoes"]}, ["start", "voice"]),
        ("just Nike", {"gender": MEN, "article_type": ["Casual Shoes"], "brand": ["Nike"]}, ["brand"]),
        ({"audio": "media/held-16-2.wav", "spoken": "anything below four thousand"},
         {"gender": MEN, "article_type": ["Casual Shoes"], "brand": ["Nike"], "max_price": 4000}, ["price", "voice"])]),
    ("held-17", "en", [
        ("sweatshirts for women", {"gender": WOMEN, "article_type": ["Sweatshirts"]}, ["start"]),
        ("the second one is nice, show me ones like it", {"gender": WOMEN, "same_type_as_result": [0, 2]}, ["similar"]),
        ("next page please", {"gender": WOMEN, "same_type_as_result": [0, 2], "not_ids_from_turn": 1}, ["more"])]),
    ("held-18", "en", [
        ("backpacks", {"article_type": ["Backpacks"]}, ["start"]),
        ("it's a present for my boyfriend", {"gender": MEN, "article_type": ["Backpacks"]}, ["gender"]),
        ("nothing pricier than 1500", {"gender": MEN, "article_type": ["Backpacks"], "max_price": 1500}, ["price", "cap"])]),
    ("held-19", "en", [
        ("white sneakers for women", {"gender": WOMEN, "article_type": ["Casual Shoes", "Sports Shoes"],
                                      "base_colour": ["White"]}, ["start"]),
        ("do they come in black", {"gender": WOMEN, "article_type": ["Casual Shoes", "Sports Shoes"],
                                  "base_colour": ["Black"]}, ["colour"]),
        ("moving on, I also need a wallet", {"gender": WOMEN, "article_type": ["Wallets"]}, ["switch"])]),
    ("held-20", "en", [
        ({"image": f"{PHOTOS}/photo-0152.jpg", "text": "something like this for women"},
         {"gender": WOMEN, "article_type": ["Sports Shoes"]}, ["photo", "gender"]),
        ("in black", {"gender": WOMEN, "article_type": ["Sports Shoes"], "base_colour": ["Black"]}, ["colour"])]),
    ("held-21", "zh", [
        ("女士平底鞋", {"gender": WOMEN, "article_type": ["Flats"]}, ["start", "zh"]),
        ("黑色的有没有", {"gender": WOMEN, "article_type": ["Flats"], "base_colour": ["Black"]}, ["colour", "zh"]),
        ("价格再低一些", {"gender": WOMEN, "article_type": ["Flats"], "base_colour": ["Black"],
                     "cheaper_than_turn": 1}, ["price", "zh"])]),
    ("held-22", "zh", [
        ("男士T恤", {"gender": MEN, "article_type": ["Tshirts"]}, ["start", "zh"]),
        ("只看彪马", {"gender": MEN, "article_type": ["Tshirts"], "brand": ["Puma"]}, ["brand", "zh"]),
        ("八百元以内", {"gender": MEN, "article_type": ["Tshirts"], "brand": ["Puma"], "max_price": 800}, ["price", "zh"])]),
    ("held-23", "zh", [
        ("女士手表", {"gender": WOMEN, "article_type": ["Watches"]}, ["start", "zh"]),
        ("其实是给我爸爸的", {"gender": MEN, "article_type": ["Watches"]}, ["gender", "zh"]),
        ("不要超过三千", {"gender": MEN, "article_type": ["Watches"], "max_price": 3000}, ["price", "zh"])]),
    ("held-24", "zh", [
        ("男士运动鞋", {"gender": MEN, "article_type": ["Sports Shoes"]}, ["start", "zh"]),
        ("耐克的不要", {"gender": MEN, "article_type": ["Sports Shoes"], "not_brand": ["Nike"]}, ["brand", "zh"]),
        ("再给我看几双", {"gender": MEN, "article_type": ["Sports Shoes"], "not_brand": ["Nike"],
                     "not_ids_from_turn": 1}, ["more", "zh"])]),
    ("held-25", "zh", [
        ("女士上衣", {"gender": WOMEN, "article_type": ["Tops"]}, ["start", "zh"]),
        ("现在帮我看看女士手提包", {"gender": WOMEN, "article_type": ["Handbags"]}, ["switch", "zh"]),
        ("五百到一千元", {"gender": WOMEN, "article_type": ["Handbags"], "min_price": 500, "max_price": 1000},
         ["price", "zh"])]),
    ("held-26", "zh", [
        ("蓝色男士衬衫", {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Blue"]}, ["start", "zh"]),
        ("颜色不限", {"gender": MEN, "article_type": ["Shirts"]}, ["colour", "drop", "zh"]),
        ("一千元以上的", {"gender": MEN, "article_type": ["Shirts"], "min_price": 1000}, ["price", "floor", "zh"])]),
]

# A second held-out set (eval/dialogues-heldout-b), written after the first had been read for its failures and
# before the conversation was changed for them: what those changes do on wordings nobody tuned on.
DIALOGUES_B: list[tuple[str, str, list[tuple[object, dict, list[str]]]]] = [
    ("hb-01", "en", [
        ("looking for jeans for men", {"gender": MEN, "article_type": ["Jeans"]}, ["start"]),
        ("keep them under 1500 rupees", {"gender": MEN, "article_type": ["Jeans"], "max_price": 1500}, ["price"]),
        ("hmm, can you find anything less expensive", {"gender": MEN, "article_type": ["Jeans"], "max_price": 1200},
         ["price"])]),
    ("hb-02", "en", [
        ("ladies' heels", {"gender": WOMEN, "article_type": ["Heels"]}, ["start"]),
        ("got any in brown?", {"gender": WOMEN, "article_type": ["Heels"], "base_colour": ["Brown"]}, ["colour"]),
        ("the colour is not that important", {"gender": WOMEN, "article_type": ["Heels"]}, ["colour", "drop"])]),
    ("hb-03", "en", [
        ("black backpacks", {"article_type": ["Backpacks"], "base_colour": ["Black"]}, ["start"]),
        ("not a fan of Puma", {"article_type": ["Backpacks"], "base_colour": ["Black"], "not_brand": ["Puma"]},
         ["brand"]),
        ("show me the next lot", {"article_type": ["Backpacks"], "base_colour": ["Black"], "not_brand": ["Puma"],
                                  "not_ids_from_turn": 1}, ["more"])]),
    ("hb-04", "en", [
        ("watches for women under 5000", {"gender": WOMEN, "article_type": ["Watches"], "max_price": 5000}, ["start"]),
        ("raise that to 8000", {"gender": WOMEN, "article_type": ["Watches"], "max_price": 8000}, ["price", "budget"]),
        ("preferably white", {"gender": WOMEN, "article_type": ["Watches"], "max_price": 8000, "base_colour": ["White"]},
         ["colour"])]),
    ("hb-05", "en", [
        ("men's casual shoes", {"gender": MEN, "article_type": ["Casual Shoes"]}, ["start"]),
        ("these are actually for my mum", {"gender": WOMEN, "article_type": ["Casual Shoes"]}, ["gender"]),
        ("more like number 4", {"gender": WOMEN, "same_type_as_result": [1, 4]}, ["similar"])]),
    ("hb-06", "en", [
        ("t-shirts for men for the gym", {"gender": MEN, "article_type": ["Tshirts"], "usage": ["Sports"]}, ["start"]),
        ("drop the gym part", {"gender": MEN, "article_type": ["Tshirts"]}, ["usage", "drop"]),
        ("nothing cheaper than 700", {"gender": MEN, "article_type": ["Tshirts"], "min_price": 700}, ["price", "floor"])]),
    ("hb-07", "en", [
        ("women's kurtas for a festival", {"gender": WOMEN, "article_type": ["Kurtas"], "usage": ["Ethnic"]}, ["start"]),
        ("heels would be next on my list", {"gender": WOMEN, "article_type": ["Heels"]}, ["switch"]),
        ("gold coloured", {"gender": WOMEN, "article_type": ["Heels"], "base_colour": ["Gold"]}, ["colour"])]),
    ("hb-08", "en", [
        ({"image": f"{PHOTOS}/photo-0042.jpg"}, {"gender": WOMEN, "article_type": ["Tops"], "base_colour": ["Blue"]},
         ["photo"]),
        ("do you have these in black", {"gender": WOMEN, "article_type": ["Tops"], "base_colour": ["Black"]},
         ["photo", "colour"]),
        ("under a thousand", {"gender": WOMEN, "article_type": ["Tops"], "base_colour": ["Black"], "max_price": 1000},
         ["price"])]),
    ("hb-09", "en", [
        ({"image": f"{PHOTOS}/shopper-0050.jpg"}, {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Red"]},
         ["photo"]),
        ("these are pricey, anything for less?", {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Red"],
                                                  "cheaper_than_turn": 0}, ["price"])]),
    ("hb-10", "en", [
        ("women's handbags under 2000", {"gender": WOMEN, "article_type": ["Handbags"], "max_price": 2000}, ["start"]),
        ({"image": f"{PHOTOS}/photo-0077.jpg"}, {"gender": WOMEN, "article_type": ["Handbags"], "base_colour": ["Green"]},
         ["photo", "switch"]),
        ("in black", {"gender": WOMEN, "article_type": ["Handbags"], "base_colour": ["Black"]}, ["photo", "colour"])]),
    ("hb-11", "en", [
        ("sunglasses for men", {"gender": MEN, "article_type": ["Sunglasses"]}, ["start"]),
        ("forget all that, show me women's wallets", {"gender": WOMEN, "article_type": ["Wallets"]}, ["reset", "switch"]),
        ("what's the cheapest you have", {"gender": WOMEN, "article_type": ["Wallets"], "cheaper_than_turn": 1},
         ["price"])]),
    ("hb-12", "en", [
        ({"audio": "media/hb-12-0.wav", "spoken": "blue shirts for men"},
         {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Blue"]}, ["start", "voice"]),
        ("keep it under 1200", {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["Blue"], "max_price": 1200},
         ["price"]),
        ({"audio": "media/hb-12-2.wav", "spoken": "show me white ones instead"},
         {"gender": MEN, "article_type": ["Shirts"], "base_colour": ["White"], "max_price": 1200}, ["colour", "voice"])]),
    ("hb-13", "en", [
        ({"image": f"{PHOTOS}/shopper-0120.jpg"}, {"gender": MEN, "article_type": ["Sweatshirts"], "base_colour": ["Grey"]},
         ["photo"]),
        ("in black", {"gender": MEN, "article_type": ["Sweatshirts"], "base_colour": ["Black"]}, ["photo", "colour"])]),
    ("hb-14", "zh", [
        ("男士休闲鞋", {"gender": MEN, "article_type": ["Casual Shoes"]}, ["start", "zh"]),
        ("阿迪达斯的就算了", {"gender": MEN, "article_type": ["Casual Shoes"], "not_brand": ["ADIDAS"]}, ["brand", "zh"]),
        ("两千以内", {"gender": MEN, "article_type": ["Casual Shoes"], "not_brand": ["ADIDAS"], "max_price": 2000},
         ["price", "zh"])]),
    ("hb-15", "zh", [
        ("女士红色上衣", {"gender": WOMEN, "article_type": ["Tops"], "base_colour": ["Red"]}, ["start", "zh"]),
        ("其他颜色也行", {"gender": WOMEN, "article_type": ["Tops"]}, ["colour", "drop", "zh"]),
        ("更便宜一点的", {"gender": WOMEN, "article_type": ["Tops"], "cheaper_than_turn": 1}, ["price", "zh"])]),
    ("hb-16", "zh", [
        ("男士手表", {"gender": MEN, "article_type": ["Watches"]}, ["start", "zh"]),
        ("还能再看几块吗", {"gender": MEN, "article_type": ["Watches"], "not_ids_from_turn": 0}, ["more", "zh"]),
        ("三千以上", {"gender": MEN, "article_type": ["Watches"], "min_price": 3000}, ["price", "floor", "zh"])]),
    ("hb-17", "zh", [
        ("女士凉鞋", {"gender": WOMEN, "article_type": ["Sandals"]}, ["start", "zh"]),
        ("男款的有吗", {"gender": MEN, "article_type": ["Sandals"]}, ["gender", "zh"]),
        ("棕色", {"gender": MEN, "article_type": ["Sandals"], "base_colour": ["Brown"]}, ["colour", "zh"])]),
    ("hb-18", "zh", [
        ("男士牛仔裤", {"gender": MEN, "article_type": ["Jeans"]}, ["start", "zh"]),
        ("我更喜欢第三条那样的", {"gender": MEN, "same_type_as_result": [0, 3]}, ["similar", "zh"]),
        ("退回上一步", {"gender": MEN, "article_type": ["Jeans"]}, ["back", "zh"])]),
    ("hb-19", "zh", [
        ("女士手提包一千元以下", {"gender": WOMEN, "article_type": ["Handbags"], "max_price": 1000}, ["start", "zh"]),
        ("预算提高到两千", {"gender": WOMEN, "article_type": ["Handbags"], "max_price": 2000}, ["price", "budget", "zh"]),
        ("现在看看太阳镜", {"gender": WOMEN, "article_type": ["Sunglasses"]}, ["switch", "zh"])]),
]
SETS = {"dialogues-heldout": DIALOGUES, "dialogues-heldout-b": DIALOGUES_B}


def price(p: dict) -> float | None:
    return p.get("sale_price") if p.get("sale_price") is not None else p.get("price")


def matches(p: dict, must: dict) -> bool:
    pr = price(p)
    if "max_price" in must and (pr is None or pr > must["max_price"]):
        return False
    if "min_price" in must and (pr is None or pr < must["min_price"]):
        return False
    if "not_brand" in must and p.get("brand") in must["not_brand"]:
        return False
    return all(p.get(f) in must[f] for f in ("gender", "article_type", "base_colour", "usage", "brand") if f in must)


def write(out: Path, dialogues: list[tuple[str, str, list[tuple[object, dict, list[str]]]]],
          products: list[dict]) -> int:
    """One set's dialogues.jsonl (and its spoken turns) under `out`; 1 when a turn has under 10 catalog matches."""
    (out / "media").mkdir(parents=True, exist_ok=True)
    lines = []
    for did, lang, turns in dialogues:
        out_turns, expect = [], []
        for turn, must, intents in turns:
            t = {"text": turn} if isinstance(turn, str) else dict(turn)
            if "audio" in t and not (out / t["audio"]).is_file():
                wav = out / t["audio"]
                subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav.with_suffix(".raw.wav")),
                                t["spoken"]], check=True)
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav.with_suffix(".raw.wav")), "-ac", "1",
                                "-ar", "16000", str(wav)], check=True)
                wav.with_suffix(".raw.wav").unlink()
            n = sum(matches(p, must) for p in products)
            if "same_type_as_result" not in must and n < 10:
                print(f"{did}: {t} has {n} catalog matches", file=sys.stderr)
                return 1
            out_turns.append(t)
            expect.append({"must": must, "intents": intents, "catalog_matches": n})
        lines.append(json.dumps({"did": did, "lang": lang, "turns": out_turns, "expect": expect}, ensure_ascii=False))
    (out / "dialogues.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} dialogues written to {out / 'dialogues.jsonl'}")
    return 0


def main() -> int:
    products = [json.loads(line) for line in (SHARED / "datasets" / "fashion" / "products.jsonl").read_text().splitlines()
                if line.strip()]
    return max(write(EVAL / name, dialogues, products) for name, dialogues in SETS.items())

if __name__ == "__main__":
    sys.exit(main())
