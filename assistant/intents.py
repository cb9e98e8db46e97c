"""What a follow-up message does to the current request, recognised by meaning: a small softmax classifier over
the multilingual sentence encoder (USE, English and Chinese in one space) plus a few flags saying which slots
the request understanding found (a price, a colour, a type …). The slot values themselves always come from
`understanding.understand`; the classifier only decides the act ("cheaper", "drop the colour", "like the
third one" …).

It is trained on paraphrases generated here from templates (English and Chinese, seeded), never on the
dev dialogues, and measured on a hand-written held-out set with other wordings (`eval/intents-heldout.jsonl`).
`python -m assistant intents train` writes `assets/models/intents/` (weights + a card with their SHA-256,
the training command, seed and accuracies); loading checks the checksum.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .encoders import text_encoder
from .encoders.base import ModelFileError, TextEncoder
from .understanding import Understanding

MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "models" / "intents"
ENCODER = "use-multilingual"
ACTS = ("refine", "switch", "more", "cheaper", "pricier", "cap", "floor", "budget_up", "budget_down", "drop_colour",
        "drop_brand", "drop_price", "drop_usage", "drop_gender", "not_brand", "exclude", "similar", "back", "reset")
FLAGS = ("max", "min", "number", "colour", "type", "gender", "brand", "usage", "excluded", "ordinal", "zh")
ORDINAL = re.compile(r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th))\b"
                     r"|#\s*\d+|\bno\.?\s*\d+|\bnumber\s+\d+|第\s*[一二两三四五六七八九十\d]+|最后", re.I)


def flags(text: str, u: Understanding | None) -> np.ndarray:
    """Which slots a message fills, as 0/1 features beside its sentence vector."""
    f = u.facets if u else {}
    on = {"max": u is not None and u.max_price is not None, "min": u is not None and u.min_price is not None,
          "number": bool(re.search(r"\d|[一二两三四五六七八九十百千万]{1,4}(?:元|块|千)", text)),
          "colour": "base_colour" in f, "type": "article_type" in f, "gender": "gender" in f, "brand": "brand" in f,
          "usage": "usage" in f, "excluded": bool(u and u.excluded), "ordinal": bool(ORDINAL.search(text)),
          "zh": bool(re.search(r"[\u3400-\u9fff]", text))}
    return np.array([float(on[k]) for k in FLAGS], np.float32)


# ---------------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntentModel:
    """A small MLP: probabilities = softmax(relu([sentence vector, flags] @ W1 + b1) @ W2 + b2)."""

    w1: np.ndarray  # (features, hidden)
    b1: np.ndarray
    w2: np.ndarray  # (hidden, acts)
    b2: np.ndarray
    acts: tuple[str, ...] = ACTS

    def probabilities(self, vectors: np.ndarray, slot_flags: np.ndarray) -> np.ndarray:
        x = np.concatenate([vectors, slot_flags], axis=1)
        z = np.maximum(x @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def save(self, folder: Path, card: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "intents.npz"
        np.savez(path, w1=self.w1.astype(np.float32), b1=self.b1.astype(np.float32), w2=self.w2.astype(np.float32),
                 b2=self.b2.astype(np.float32), acts=np.array(self.acts))
        card = {**card, "acts": list(self.acts), "flags": list(FLAGS), "encoder": ENCODER,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        (folder / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path = MODEL_DIR) -> IntentModel:
        path, card_path = folder / "intents.npz", folder / "card.json"
        try:
            card = json.loads(card_path.read_text())
            data = path.read_bytes()
        except (OSError, ValueError) as e:
            raise ModelFileError(f"the follow-up intent model is missing or unreadable ({folder}): {e}; "
                                 "rebuild it with `python -m assistant intents train`") from None
        if hashlib.sha256(data).hexdigest() != card.get("sha256"):
            raise ModelFileError(f"{path} does not match the SHA-256 in {card_path.name}; rebuild it with "
                                 "`python -m assistant intents train`")
        with np.load(path) as z:
            model = cls(z["w1"], z["b1"], z["w2"], z["b2"], tuple(str(a) for a in z["acts"]))
        if model.w1.shape[0] != 512 + len(FLAGS):
            raise ModelFileError(f"{path} has {model.w1.shape[0]} features, not {512 + len(FLAGS)}")
        return model


@lru_cache(maxsize=1)
def use_encoder(threads: int = 2) -> TextEncoder:
    """The multilingual sentence encoder the model reads messages with (when the engine's is another)."""
    return text_encoder(ENCODER, threads)


@lru_cache(maxsize=2)
def load_model(folder: str = str(MODEL_DIR)) -> IntentModel:
    return IntentModel.load(Path(folder))


def train_model(vectors: np.ndarray, slot_flags: np.ndarray, labels: Sequence[str], seed: int = 0,
                epochs: int = 400, hidden: int = 128, weight_decay: float = 1e-4) -> IntentModel:
    """Full-batch training (Adam, dropout, classes weighted by their size), seeded."""
    import torch

    torch.manual_seed(seed)
    x = torch.tensor(np.concatenate([vectors, slot_flags], axis=1))
    y = torch.tensor([ACTS.index(label) for label in labels])
    first, last = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, len(ACTS))
    net = torch.nn.Sequential(torch.nn.Dropout(0.2), first, torch.nn.ReLU(), torch.nn.Dropout(0.2), last)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=weight_decay)
    counts = torch.bincount(y, minlength=len(ACTS)).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=counts.sum() / (counts.clamp(min=1) * len(ACTS)))
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    def array(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().copy()

    return IntentModel(array(first.weight.T), array(first.bias), array(last.weight.T), array(last.bias))


def accuracy(model: IntentModel, vectors: np.ndarray, slot_flags: np.ndarray, labels: Sequence[str]) -> float:
    guess = model.probabilities(vectors, slot_flags).argmax(axis=1)
    return float(np.mean([model.acts[g] == label for g, label in zip(guess, labels, strict=True)]))


# ---------------------------------------------------------------------------------------------------
# training paraphrases (templates, English and Chinese)
# ---------------------------------------------------------------------------------------------------
def _lines(block: str) -> list[str]:
    """One template a line."""
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


EN_FILL = {
    "colour": ["black", "white", "blue", "navy blue", "red", "green", "grey", "pink", "brown", "purple", "yellow",
               "maroon", "orange", "beige", "silver", "olive", "teal", "gold"],
    "type": ["t-shirts", "shirts", "jeans", "heels", "flats", "sneakers", "sports shoes", "casual shoes", "formal shoes",
             "sandals", "watches", "handbags", "backpacks", "wallets", "belts", "sunglasses", "caps", "kurtas", "tops",
             "dresses", "track pants", "shorts", "socks", "jackets", "sweaters", "sweatshirts", "trousers",
             "flip flops", "sarees", "skirts", "ties", "perfume", "a watch", "a handbag", "a belt", "a cap"],
    "brand": ["Nike", "Puma", "Adidas", "Reebok", "Fastrack", "Titan", "Catwalk", "Lee", "Levis", "Wrangler",
              "Baggit", "Fila", "Arrow", "Spykar", "Clarks", "Timberland", "Peter England", "Flying Machine", "Lotto"],
    "gender": ["men", "women", "boys", "girls", "a man", "a woman", "ladies", "guys", "kids"],
    "who": ["my husband", "my wife", "my sister", "my brother", "my dad", "my mom", "my son", "my daughter",
            "my girlfriend", "my boyfriend", "him", "her"],
    "usage": ["the gym", "office", "work", "a wedding", "running", "sports", "everyday wear", "a festival", "yoga"],
    "style": ["casual", "formal", "sporty", "traditional", "ethnic", "festive", "athletic", "office"],
    "nth": ["first", "second", "third", "fourth", "fifth", "sixth", "last", "2nd", "3rd", "4th", "#2", "#5",
            "number 3", "no. 4"],
}
ZH_FILL = {
    "colour": ["黑色", "白色", "红色", "蓝色", "灰色", "绿色", "粉色", "黄色", "棕色", "紫色", "橙色", "藏青色", "米色", "银色"],
    "type": ["衬衫", "T恤", "牛仔裤", "高跟鞋", "平底鞋", "运动鞋", "休闲鞋", "皮鞋", "凉鞋", "手表", "手提包", "背包", "钱包",
             "皮带", "太阳镜", "帽子", "连衣裙", "上衣", "夹克", "毛衣", "卫衣", "长裤", "短裤", "袜子", "拖鞋"],
    "brand": ["耐克", "彪马", "阿迪达斯", "锐步", "李维斯", "Nike", "Puma", "Adidas", "Fastrack", "Catwalk"],
    "gender": ["男士", "女士", "男生", "女生", "男款", "女款", "男孩", "女孩"],
    "who": ["我老公", "我老婆", "我妈妈", "我爸爸", "我姐姐", "我妹妹", "我哥哥", "我儿子", "我女儿", "我男朋友", "我女朋友"],
    "style": ["正式", "休闲", "运动", "商务", "传统", "正装"],
    "usage": ["上班", "健身", "跑步", "婚礼", "运动", "日常"],
    "nth": ["一", "二", "三", "四", "五", "六", "2", "3"],
    "cl": ["双", "件", "条", "块", "个", "款", "只", "顶"],  # measure words: shoes, clothes, trousers, watches …
}
EN_TEMPLATES: dict[str, list[str]] = {
    "refine": _lines("""
{colour} please
{colour} ones
{colour}
only {brand}
show me {brand}
{style} please
{type} instead
{colour} {type} instead
no {brand}
{colour} and {style}
{brand} in {colour}
same thing but {colour}
in {colour}
show me {colour} ones
do you have it in {colour}
can i see {colour}
make it {colour}
what about {colour}
any in {colour}?
for {gender}
same but for {gender}
show me the same for {gender}
these for {gender} please
it's for {who}
they are for {who}
i'm buying for {who}
it's a gift for {who}
just {brand}
{brand} only
only from {brand} please
do you have {brand}
something for {usage}
for {usage}
something more {style}
more {style} ones
a bit more {style}
i need it for {usage}
show me {type} instead
make that {type}
actually {type}
switch to {type}
rather {type}
change it to {type}
not {colour}
no {colour} please
anything but {brand}
without {brand}
in {colour} for {gender}
like this but in {colour}
this in {colour}
same but in {colour}
like this but for {gender}"""),
    "switch": _lines("""
{type}
{type} please
{colour} {type}
{type} for {who}
now {type}
new search: {type}
{colour} {type} for {gender}
i want {type}
{type} for {gender}
show me {type}
{gender}'s {type}
{colour}{gender}{type}
{gender}{type}
now show me {type}
now {type} for {gender}
next i need {type}
i also need {type}
let's look at {type} now
moving on, {type}
what about {type} now
ok now some {type}
now i want {colour} {type}
can you now find me {type}
something else: {type}
i'm also looking for {type}
now let's find {type} for {who}
great, now {type}
now show me {colour} {type} for {gender}
looking for {type}
find me {colour} {type}
i need {type} for {usage}"""),
    "more": _lines("""
more
show more
more please
what else have you got
are there more
let me see more of them
i want to see more options
show me the rest
the next few
more choices
any other ones?
page two
scroll on
what other ones are there
more of the same
show me more
next page
next
keep going
any more?
load more
give me more options
what else do you have
other options
more results
see more
anything else?
continue
let me see others
more of these
next ones
other ones please
got any others?"""),
    "cheaper": _lines("""
cheaper
something cheaper
these cost a lot
less money please
lower cost ones
on a budget
i'm looking for a bargain
something that won't break the bank
those prices are high
anything at a lower price
less pricey
budget ones
economical options
cheaper ones
too expensive
that's too pricey
less expensive please
more affordable
lower price
can you go cheaper
cheaper options
i can't afford these
those are over my budget
something more budget friendly
anything less costly
a bit cheaper
way too costly
cheaper {colour} ones
lower priced ones
i want to spend less
show me cheaper {type}"""),
    "pricier": _lines("""
more expensive
pricier
better ones, price is fine
high quality ones
the expensive ones
classier
a step up in price
posher ones
premium options please
upgrade
something premium
higher end
fancier ones
better quality
more upmarket
luxury ones
these look cheap
show me pricier options
a bit more expensive
something more high end
top of the range
nicer and more expensive"""),
    "cap": _lines("""
under {n}
max {n}
budget {n}
below {n}
{n} tops
no more than {n} rupees
nothing pricier than {n}
i won't spend over {n}
don't go above {n}
don't exceed {n}
limit is {n}
cap it at {n}
up to {n} only
nothing costing more than {n}
stay under {n}
below ₹{n}
less than {n}
under {n} rupees
nothing over {n}
not more than {n}
{n} max
keep it under {n}
up to {n}
within {n}
my budget is {n}
i can spend {n}
{n} is my limit
at most {n}
no more than {n}
don't show anything over {n}
anything under {n}?
show me ones below {n}
i don't want to pay more than {n}
cheaper than {n}
not above {n}
price under {n}
less than {n} please
below {n} please
{n} or less
under ₹{n}
rs {n} max"""),
    "floor": _lines("""
minimum {n}
over {n}
above {n}
{n} minimum
not below {n}
nothing less than {n}
from {n} upwards
at least ₹{n}
no cheaper than {n}
{n} and up
start at {n}
more than {n}
{n} and above
{n} or more
starting from {n}
from {n} up
not less than {n}
nothing below {n}
nothing under {n}
don't show anything cheaper than {n}
above ₹{n} please
costlier than {n}
priced over {n}
{n} plus"""),
    "budget_up": _lines("""
i can spend more
i can afford more now
push my budget up
up my budget by {n}
add {n} to the budget
make the budget {n} higher
higher budget please
i'll pay a bit more
increase my budget
raise the budget
raise my budget to {n}
increase the budget by {n}
i can go up to {n} now
my budget is higher now
let's go a bit higher
stretch the budget
i have {n} more to spend
bump the budget up
i can pay a little more
raise it to {n}
bump that up to {n}
take my limit up to {n}
move the budget up to {n}
push it to {n}
ok, {n} is my new limit
let's say up to {n} now"""),
    "budget_down": _lines("""
lower my budget
take {n} off the budget
make the budget {n} lower
lower budget please
i have to spend less
my budget went down
budget cut to {n}
shrink the budget
reduce the budget
lower the budget to {n}
reduce my budget by {n}
my budget is smaller now
i have less to spend
bring the budget down
cut the budget by {n}
decrease the budget
i need to spend less than before
bring it down to {n}
drop that to {n}
lower it to {n}"""),
    "drop_colour": _lines("""
all colours are fine
i'm not picky about colour
doesn't have to be {colour}
no colour preference
any shade
any color
colour doesn't matter
i don't care about the colour
forget the colour
all colours
never mind the colour
remove the colour filter
other colours are ok too
show all colors
the colour is not important"""),
    "drop_brand": _lines("""
any brand
any label
not picky about brands
no brand preference
doesn't have to be {brand}
show every brand
brand is not important
brand doesn't matter
any brand is fine
forget the brand
i don't care about the brand
all brands
remove the brand filter
never mind the brand
other brands are fine too"""),
    "drop_price": _lines("""
any price
whatever the price
no price limit
budget is not a concern
remove my budget
forget about the price
cost doesn't matter
no limit on price
price doesn't matter
forget the budget
no budget
ignore the price
money is no object
remove the price filter
i don't care about the price
never mind the budget
price is not an issue"""),
    "drop_usage": _lines("""
any occasion
not just for {usage}
whatever the occasion
remove the occasion
all occasions
no occasion preference
doesn't have to be {style}
not necessarily {style}
any style is fine
forget the occasion
for any occasion
style doesn't matter
never mind the occasion"""),
    "drop_gender": _lines("""
for anyone
either men's or women's
both genders
remove the gender filter
men's and women's both fine
no gender preference
any gender
doesn't matter who it's for
men or women is fine
show both men and women
forget the gender
for everyone"""),
    "not_brand": _lines("""
not this brand
not a fan of this brand
some other brand
anything but this brand
not from this brand
no more of this brand
other brands
a different brand
i don't like this brand
another brand please
not that brand
not the brand of the {nth} one
different brands please
not the same brand
i hate this brand
avoid that brand
show other brands"""),
    "exclude": _lines("""
lose the {nth}
the {nth} isn't for me
not the {nth} one
i don't want the {nth} one
remove number {k}
skip the {nth} one
drop the {nth} one
without the {nth} one
remove the {nth} one
hide #{k}
i don't like the {nth} one
get rid of the {nth}
drop number {k}
not that one
take out the {nth} one
the {nth} one is ugly
exclude the {nth}
no to the {nth} one
hide this one"""),
    "similar": _lines("""
more like the {nth} one
anything like the {nth}
the {nth} one, but more of those
similar items to #{k}
in the style of the {nth} one
resembling the {nth}
like #{k} please
i love the {nth} one, similar please
same vibe as the {nth} one
like the {nth} one
similar to the {nth}
something like #{k}
show me more like the {nth} one
i like the {nth} one, show similar
ones like number {k}
more like that
similar to this one
the {nth} one is nice, more like it
find me something similar to the {nth}
closer to the {nth} one
like #{k} but different"""),
    "back": _lines("""
go back
bring back the previous ones
previous ones please
back to before
the earlier results
back
previous results
show the previous ones
undo
go back to the last results
the ones before were better
back to the {colour} ones
take me back
undo that
return to the earlier results
let's go back to the {type}
previous page of results
i preferred the earlier ones
revert"""),
    "reset": _lines("""
start over
start fresh
begin from scratch
reset everything
forget all of it
let's start again
clean slate
wipe the filters
start again
reset
clear everything
let's start from scratch
forget everything
new search
clear all filters
begin again
restart
wipe it and start over
scrap that, start over"""),
}
ZH_TEMPLATES: dict[str, list[str]] = {
    "refine": _lines("""
{colour}的
要{colour}的
换成{colour}
给{gender}的
{gender}的
{who}穿的
{brand}的
要{brand}的
适合{usage}的
{usage}穿的
要{style}的
换成{type}吧
不要{brand}的
有{colour}的吗
{colour}的有吗
我想要{colour}的
换成{gender}的
是给{who}的
买给{who}
只要{brand}的
{style}一点的
改成{type}
像这个但是要{colour}的
这个要{colour}的
同样的但是{colour}
同款{gender}的"""),
    "switch": _lines("""
现在给我看看{type}
现在看{type}
现在要{gender}{type}
我还想买{type}
再帮我找{type}
另外我还需要{type}
接下来看看{type}
换个东西，{type}
我想买{type}
给我看{type}
找一下{colour}的{type}
现在找{who}的{type}"""),
    "more": _lines("""
更多
再来一些
再看一些
多看几个
后面的呢
再看看
下一页
还有吗
还有别的吗
换一批
再多看一些
多给我看几个
继续
还有其他的吗
再给我看点
别的呢
再拿几{cl}来看看
多推荐几{cl}
能多看几{cl}吗
还想多看几{cl}
再找几{cl}给我"""),
    "cheaper": _lines("""
便宜点
便宜一点
便宜些的
价格太高了
有没有实惠的
贵了
便宜点的
太贵了
有没有便宜一点的
更便宜的
价格低一点
实惠一点的
太贵了，换便宜的
我买不起这些
再便宜些
便宜一点的{type}"""),
    "pricier": _lines("""
贵一点的
高级点的
质量好一点的
更贵的
高档一点
高端一点的
好一点的
档次高一点
更高级的
来点贵的"""),
    "cap": _lines("""
{n}以内
预算{n}
{n}元以下
别超过{n}元
不要超过{n}
价格别超过{n}
不超过{n}元
低于{n}
{n}块以下
最多{n}元
别超过{n}
不要超过{n}的
{n}元之内
价格在{n}以下"""),
    "floor": _lines("""
{n}元以上
{n}以上
不能低于{n}
至少{n}元
不低于{n}
高于{n}元
最少{n}块
起码{n}元"""),
    "budget_up": _lines("""
预算可以高一点
预算提高一些
我可以多花点
预算提高到{n}
预算增加{n}
可以再贵一点预算
提高预算"""),
    "budget_down": _lines("""
预算低一点
预算降低一些
降低预算
预算减少{n}
预算降到{n}
我没那么多钱了
少花点钱"""),
    "drop_colour": _lines("""
颜色无所谓
颜色都行
任何颜色
什么颜色都行
颜色都可以
不限颜色
颜色不重要
别管颜色"""),
    "drop_brand": _lines("""
牌子无所谓
牌子随便
什么牌子都行
品牌不限
不管品牌
品牌都可以"""),
    "drop_price": _lines("""
价格无所谓
价格随便
多少钱都行
不限价格
预算不限
不管价格
钱不是问题"""),
    "drop_usage": _lines("""
场合无所谓
什么场合都行
不一定要{style}
风格无所谓"""),
    "drop_gender": _lines("""
男女都可以
不限男女
男款女款都行"""),
    "not_brand": _lines("""
不要这个牌子
不要这个品牌的
换个牌子
别的品牌
其他牌子的
不喜欢这个品牌
不要第{z}个的牌子"""),
    "exclude": _lines("""
不要第{z}个
把第{z}个拿掉
第{z}个去掉
去掉第{z}个
第{z}个不好看
不喜欢第{z}个"""),
    "similar": _lines("""
像第{z}个的
跟第{z}个一样风格的
和第{z}个类似的
跟第{z}个差不多的
更像第{z}个
第{z}个不错，找类似的
类似这个的"""),
    "back": _lines("""
返回
回到之前
上一步
回到上一步
还是刚才那些
之前的结果
撤销
回到刚才的
上一步的结果更好"""),
    "reset": _lines("""
重新开始
清空条件
重来
清空
全部重新找
从头开始
清除所有条件"""),
}


def _numbers(rng: random.Random, zh: bool) -> str:
    n = rng.choice([200, 300, 400, 500, 600, 750, 800, 900, 1000, 1200, 1500, 1800, 2000, 2500, 3000, 3500, 5000])
    if zh:
        return rng.choice([str(n), {500: "五百", 1000: "一千", 2000: "两千", 1500: "一千五百", 800: "八百",
                                    3000: "三千"}.get(n, str(n))])
    return rng.choice([str(n), f"{n:,}", f"{n / 1000:g}k" if n >= 1000 else str(n), f"₹{n}", f"rs {n}", f"{n} rupees"])


def generate(seed: int = 0, per_template: int = 6) -> list[tuple[str, str]]:
    """(message, act) paraphrases: every template filled `per_template` times with random slot values. Each act of
    each language draws from its own seeded generator, so templates added to one act leave the others' as they were."""
    out = []
    for templates, fill, zh in ((EN_TEMPLATES, EN_FILL, False), (ZH_TEMPLATES, ZH_FILL, True)):
        for act, forms in templates.items():
            rng = random.Random(f"{'zh' if zh else 'en'}:{act}:{seed}")
            for form, _ in itertools.product(forms, range(per_template)):
                values = {k: rng.choice(v) for k, v in fill.items()}
                values.update(n=_numbers(rng, zh), k=str(rng.randint(1, 12)), z=rng.choice(ZH_FILL["nth"]))
                text = form.format(**values)
                if not zh and rng.random() < 0.3:
                    text = rng.choice(["ok ", "hmm ", "and ", "please ", "can you ", "actually ", "great, ", "well, ",
                                       "right, ", "so ", "umm "]) + text
                if rng.random() < 0.3:
                    text += rng.choice(([" please", " thanks", " then"] if not zh else ["吧", "呢", "，谢谢"]) +
                                       ["?", "!", ".", "" if not zh else "。"])
                if not zh and rng.random() < 0.2:
                    text = text.capitalize()
                out.append((text, act))
    return list(dict.fromkeys(out))


def features(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray],
             understand: Callable[[str], Understanding]) -> tuple[np.ndarray, np.ndarray]:
    """(sentence vectors, slot flags) of messages."""
    vectors = np.asarray(encode(list(texts)), np.float32)
    slot_flags = np.stack([flags(t, understand(t)) for t in texts]) if texts else np.zeros((0, len(FLAGS)), np.float32)
    return vectors, slot_flags


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(message, act) lines of a JSONL file: {"text", "act"}."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["text"], r["act"]) for r in rows]


def fit(values: dict[str, dict[str, int]], heldout: Path | None, seed: int = 0) -> tuple[IntentModel, dict]:
    """Train on generated paraphrases, slot flags read with a vocabulary of the catalog's facet `values`;
    measure on the training paraphrases and on a held-out labelled set. (model, card metrics)."""
    from .understanding import Vocabulary, understand

    vocab = Vocabulary(values)
    encoder = use_encoder()

    def read(text: str) -> Understanding:
        return understand(text, vocab)

    train = generate(seed)
    vectors, slot_flags = features([t for t, _ in train], encoder.encode_text, read)
    model = train_model(vectors, slot_flags, [a for _, a in train], seed=seed)
    card: dict = {"seed": seed, "paraphrases": len(train),
                  "train_accuracy": round(accuracy(model, vectors, slot_flags, [a for _, a in train]), 4)}
    if heldout is not None:
        rows = read_labelled(heldout)
        hv, hf = features([t for t, _ in rows], encoder.encode_text, read)
        card["heldout"] = {"file": heldout.name, "n": len(rows),
                           "accuracy": round(accuracy(model, hv, hf, [a for _, a in rows]), 4)}
    return model, card


def report(model: IntentModel, rows: list[tuple[str, str]], encode: Callable[[list[str]], np.ndarray],
           understand: Callable[[str], Understanding]) -> str:
    """Accuracy on labelled messages, per act and per language, and every miss."""
    vectors, slot_flags = features([t for t, _ in rows], encode, understand)
    guesses = [model.acts[i] for i in model.probabilities(vectors, slot_flags).argmax(axis=1)]
    lines = [f"{'act':14} {'n':>4} {'accuracy':>9}"]
    for act in dict.fromkeys(a for _, a in rows):
        got = [g == a for (_, a), g in zip(rows, guesses, strict=True) if a == act]
        lines.append(f"{act:14} {len(got):>4} {sum(got) / len(got):>9.3f}")
    for lang, is_zh in (("en", False), ("zh", True)):
        got = [g == a for (t, a), g in zip(rows, guesses, strict=True) if bool(re.search(r"[\u3400-\u9fff]", t)) == is_zh]
        if got:
            lines.append(f"{'lang ' + lang:14} {len(got):>4} {sum(got) / len(got):>9.3f}")
    total = sum(g == a for (_, a), g in zip(rows, guesses, strict=True))
    lines.append(f"{'all':14} {len(rows):>4} {total / len(rows):>9.3f}")
    misses = [f"  {t!r}: {a} -> {g}" for (t, a), g in zip(rows, guesses, strict=True) if g != a]
    return "\n".join(lines + (["misses:", *misses] if misses else []))
