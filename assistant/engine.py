"""The one search API: words and/or a photo (plus filters, likes) in, ranked products with reasons out.
The UI, the CLI, the benchmarks and the tests all call `Engine.search`."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import CatalogError, Product, content_hash, decode_image, image_bytes, read_catalog
from .config import Settings
from .encoders import image_encoder, text_encoder
from .errors import InputError
from .fusion import load_fuser, steer
from .index import Filters, Hit, ProductIndex
from .photo import (
    Details,
    Match,
    PhotoHeads,
    PhotoReading,
    QueryTail,
    colour_agreement,
    details,
    item_colours,
    matching_points,
    read_photo,
    same_photos,
)
from .space import JointSpace
from .speech import Listening, Transcript, load_transcriber, transcribe
from .understanding import (
    SOFT_FACETS,
    Understanding,
    Vocabulary,
    speech_prompts,
    speech_spellings,
    speech_words,
    understand,
)

log = logging.getLogger(__name__)
FACET_FILTER = {"gender": "gender", "article_type": "article_type", "base_colour": "colour",
                "usage": "usage", "brand": "brand"}
PHOTO_FACETS = ("article_type", "gender", "base_colour", "usage")
HELD_FACETS = ("gender", "article_type", "base_colour")  # a heard request names products the catalog holds
SAME_PRODUCT = "the same product as your photo"


@dataclass(frozen=True)
class ProductHit:
    id: str
    score: float
    product: dict
    reasons: tuple[str, ...] = ()


@dataclass
class SearchResult:
    hits: list[ProductHit]
    understanding: Understanding | None = None
    photo_facets: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    same_product: list[str] = field(default_factory=list)  # products claimed to be the very one in the photo
    photo: bool = False  # a photo was part of the request

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def photo_description(self) -> str:
        """What the photo shows, as far as the assistant is sure ("looks like men's navy blue shirts, casual")."""
        f = self.photo_facets
        if not f:
            return "isn't clear enough for me to say what it is" if self.photo else ""
        who = {"Men": "men's", "Women": "women's", "Boys": "boys'", "Girls": "girls'", "Unisex": "unisex"}.get(
            f.get("gender", ""), "")
        words = " ".join(w for w in (who, f.get("base_colour", "").lower(), f.get("article_type", "").lower()) if w)
        usage = f.get("usage", "")
        return f"looks like {words}" + (f", {usage.lower()}" if usage else "")


def load_image(image: Image.Image | bytes | str | Path, settings: Settings) -> Image.Image:
    """A shopper's photo (object, bytes or file path) as RGB, or an InputError saying what is wrong."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise InputError(f"photo not found: {path.name}")
        if path.stat().st_size > settings.max_upload_bytes:
            raise InputError(f"that photo is too big ({path.stat().st_size / 1e6:.0f} MB); the limit is "
                             f"{settings.max_upload_bytes / 1e6:.0f} MB")
        image = path.read_bytes()
    if not isinstance(image, (bytes, bytearray, memoryview)):
        raise InputError(f"a photo must be an image file or its bytes, not {type(image).__name__}")
    if len(image) > settings.max_upload_bytes:
        raise InputError("that photo is too big to use")
    return decode_image(bytes(image), settings.max_image_pixels)


class Engine:
    """Loads the learned space, the encoders and the index once; answers searches."""

    def __init__(self, settings: Settings, space: JointSpace | None = None, index: ProductIndex | None = None) -> None:
        self.settings = settings
        self.space = space or JointSpace.load(settings.model_path)
        self.index = index or ProductIndex(settings.index_path, settings.chroma_host, settings.chroma_port,
                                           settings.collection_prefix)
        self.text_encoder = text_encoder(self.space.card.text_encoder, settings.threads)
        self.image_encoder = image_encoder(self.space.card.image_encoder, settings.threads)
        self.fuser = load_fuser(settings.fusion, settings.model_path, self.space.card.dim, settings.fusion_alpha)
        self.photo_heads = PhotoHeads.load(settings.model_path)  # None for a model trained before them
        self.query_tail = QueryTail.load(settings.model_path, self.image_encoder)  # None: the encoder as shipped
        self._matching = ThreadPoolExecutor(max(1, settings.threads), thread_name_prefix="photo-match")
        self.refresh_vocabulary()

    def refresh_vocabulary(self) -> None:
        """Re-read the catalog's facet values from the index (after an ingest), and look for the rows its vector
        index cannot reach (`ProductIndex.find_stranded`)."""
        self.index.refresh()
        self.vocabulary = Vocabulary(self.index.facet_values())
        self.index.find_stranded()
        self.speech_prompts = speech_prompts(self.vocabulary)
        self.speech_words = speech_words(self.vocabulary)
        self.speech_spellings = speech_spellings(self.vocabulary)
        self.__dict__.pop("_held_together", None)
        self._photo_colours: dict[tuple[str, str], np.ndarray | None] = {}  # read again: photos may have changed
        self._unreadable_photos: set[str] = set()

    # -- a product's own data -------------------------------------------------------------------
    @cached_property
    def _catalog(self) -> dict[str, Product]:
        """The catalog's products by id (their description, attributes and sizes are not in the index)."""
        try:
            return {p.id: p for p in read_catalog(self.settings.catalog_dir).products}
        except CatalogError:
            return {}

    def details(self, product_id: str) -> dict | None:
        """A product's index fields plus its description, attributes, sizes and colours from the catalog;
        None for a product that is not in the index."""
        meta = self.index.metadata().get(product_id)
        if meta is None:
            return None
        row = self._catalog.get(product_id)
        extra = {"description": row.description, "attributes": dict(row.attributes), "sizes": list(row.sizes),
                 "colours": list(row.colours)} if row else {"description": "", "attributes": {}, "sizes": [], "colours": []}
        return {**meta, **extra, "id": product_id}

    # -- encoders -------------------------------------------------------------------------------
    def embed_text(self, text: str) -> np.ndarray:
        return self.space.project_text(self.text_encoder.encode_text([text]))[0]

    def read_photo(self, image: Image.Image) -> PhotoReading:
        """The item found in the photo, its query vector among catalog photos and what it shows."""
        return read_photo(image, self.image_encoder, self.photo_heads, self.query_tail,
                          whole_weight=self.settings.photo_whole_weight)

    def transcribe(self, audio: bytes | str | Path) -> Transcript:
        """A voice clip (bytes or file path) to text; silence gives an empty text and a note."""
        if isinstance(audio, (str, Path)):
            path = Path(audio)
            if not path.is_file():
                raise InputError(f"voice clip not found: {path.name}")
            if path.stat().st_size > self.settings.max_upload_bytes:
                raise InputError("that recording is too big; please keep it under 30 seconds")
            audio = path.read_bytes()
        if not isinstance(audio, (bytes, bytearray, memoryview)):
            raise InputError(f"a voice clip must be an audio file or its bytes, not {type(audio).__name__}")
        if len(audio) > self.settings.max_upload_bytes:
            raise InputError("that recording is too big; please keep it under 30 seconds")
        model = load_transcriber(self.settings.speech_model, str(self.settings.cache_path),
                                 self.settings.speech_threads, self.settings.speech_window_seconds)
        return transcribe(bytes(audio), model, self.settings.max_audio_seconds, self.speech_prompts,
                          tuple(self.settings.languages.split(",")), self.speech_words, self._names_product,
                          self._meaning, self.listening, self.speech_spellings)

    def _names_product(self, text: str) -> int:
        """How much of a product the catalog holds a request names, as a shopper's request almost always names
        one: 0 unless it names a product type, for one kind of person, and some product has every facet it names
        ("women's blue tie", "men's wallet for women, red" are misheard more likely than asked; dev voice-noisy
        P@10 0.806 -> 0.846, held-out rooms 0.598 -> 0.622 choosing among the near-equal readings); else how many
        of type, person and colour it names ("black heels for women" over "the heels of women": dev voice-noisy
        P@10 0.866 -> 0.886, held-out 5 dB room 0.407 -> 0.440)."""
        facets = self.understand(text).facets
        people = set(facets.get("gender", ())) - {"Unisex"}
        if "article_type" not in facets or len(people) > 1:
            return 0
        named = [facets.get(f) or (None,) for f in HELD_FACETS]
        held = any(key in self._held_together for key in itertools.product(*named))
        return sum(f in facets for f in HELD_FACETS) if held else 0

    @cached_property
    def _held_together(self) -> frozenset[tuple[str | None, ...]]:
        """Every combination of `HELD_FACETS` values some indexed product has, any of them left open (None)."""
        held: set[tuple[str | None, ...]] = set()
        for meta in self.index.metadata().values():
            values = [meta.get(f) or None for f in HELD_FACETS]
            held.update(itertools.product(*((v, None) for v in values)))
        return frozenset(held)

    def _meaning(self, text: str) -> tuple:
        """What a request asks for (facets and prices): two readings with the same meaning find the same products."""
        u = self.understand(text)
        return tuple(sorted(u.facets.items())), tuple(sorted(u.excluded.items())), u.min_price, u.max_price

    @property
    def listening(self) -> Listening:
        s = self.settings
        return Listening(s.speech_vad_threshold, s.speech_vad_pad_seconds, s.speech_loudness_dbfs, s.speech_max_gain_db,
                         s.speech_denoise_below_snr_db, s.speech_denoise_attenuation_db,
                         s.speech_rescore_margin, s.speech_vote_temperature, s.speech_unsure_below,
                         s.speech_alternative_share, s.speech_hear_again_below_snr_db, s.speech_slow_rate)

    def understand(self, text: str) -> Understanding:
        return understand(text, self.vocabulary)

    # -- search ---------------------------------------------------------------------------------
    def search(self, text: str | None = None, image: Image.Image | bytes | str | Path | None = None,
               filters: Filters | None = None, top_k: int | None = None, like_ids: tuple[str, ...] = (),
               dislike_ids: tuple[str, ...] = (), use_understanding: bool = True) -> SearchResult:
        start = time.perf_counter()
        if text is not None and not isinstance(text, str):
            raise InputError(f"a request must be words (text), not {type(text).__name__}")
        text = (text or "").strip()
        if len(text) > self.settings.max_query_chars:
            raise InputError(f"that request is too long ({len(text):,} characters); please keep it under "
                             f"{self.settings.max_query_chars}")
        if not text and image is None:
            raise InputError("tell me what you are looking for, or add a photo")
        k = top_k or self.settings.top_k
        filters = filters or Filters()
        u = self.understand(text) if text and use_understanding else None
        if text and u is None:
            u = Understanding(query=text, search_text=text)
        if u is not None and not _meaningful(u):
            raise InputError("I couldn't find anything to search for in that request; try words like "
                             "\"black sneakers for men\"")
        photo = load_image(image, self.settings) if image is not None else None
        result = (self._search_photo(photo, u, filters, k, like_ids, dislike_ids) if photo is not None
                  else self._search_text(u, filters, k, like_ids, dislike_ids))
        result.latency_ms = (time.perf_counter() - start) * 1000
        return result

    def _hard_filters(self, u: Understanding | None, filters: Filters) -> Filters:
        """Price is a hard filter; refusals ("not black") are too."""
        if u is None:
            return filters
        return replace(filters,
                       min_price=filters.min_price if filters.min_price is not None else u.min_price,
                       max_price=filters.max_price if filters.max_price is not None else u.max_price,
                       exclude_colour=filters.exclude_colour + u.excluded.get("base_colour", ()),
                       exclude_brand=filters.exclude_brand + u.excluded.get("brand", ()))

    def _steered(self, q: np.ndarray, u: Understanding | None, like_ids: tuple[str, ...],
                 dislike_ids: tuple[str, ...]) -> np.ndarray:
        got = self.index.get(list(like_ids) + list(dislike_ids), vectors=True) if (like_ids or dislike_ids) else {}
        towards = [got[i][1] for i in like_ids if i in got]
        away = [got[i][1] for i in dislike_ids if i in got]
        if u is not None and u.negative_text:
            away.append(self.embed_text(u.negative_text))
        return steer(q, towards, away) if towards or away else q

    def _retrieve(self, q: np.ndarray, facets: dict[str, tuple[str, ...]], hard: Filters, k: int,
                  notes: list[str], photos: bool = False, pool: int = 0) -> list[Hit]:
        """Nearest products (by joint vector, or by photo) passing the hard filters; when too few of them have
        every asked facet, the store is asked for those specifically (filter, then relax with a note)."""
        pool = max(pool or self.settings.candidate_pool, k * 3)
        hits = self.index.query(q, pool, hard, photos=photos, pool=pool)
        if facets:
            strict_n = sum(all(h.metadata.get(f) in v for f, v in facets.items()) for h in hits)
            if strict_n < k:
                seen = {h.id for h in hits}
                # asked facets narrow the search, but never widen a filter the caller set
                strict = replace(hard, **{FACET_FILTER[f]: v for f, v in facets.items()
                                          if not getattr(hard, FACET_FILTER[f])})
                extra = [h for h in self.index.query(q, k, strict, photos=photos, pool=pool) if h.id not in seen]
                hits += extra
                if strict_n == 0 and not extra:
                    asked = ", ".join(" / ".join(v) for v in facets.values())
                    notes.append(f"Nothing matches all of {asked}; showing the closest alternatives.")
        return hits

    def _rank(self, hits: list[Hit], facets: dict[str, tuple[str, ...]], k: int,
              boost: float | None = None) -> list[ProductHit]:
        boost = self.settings.facet_boost if boost is None else boost
        ranked = []
        for h in hits:
            matched = [f for f, v in facets.items() if h.metadata.get(f) in v]
            score = h.score + (boost * len(matched) / len(facets) if facets else 0.0)
            reasons = tuple(f"{f.replace('base_', '').replace('_', ' ')}: {h.metadata.get(f)}" for f in matched)
            ranked.append(ProductHit(h.id, score, h.metadata, reasons))
        ranked.sort(key=lambda p: -p.score)
        return ranked[:k]

    def _search_text(self, u: Understanding, filters: Filters, k: int, like_ids: tuple[str, ...],
                     dislike_ids: tuple[str, ...]) -> SearchResult:
        notes: list[str] = []
        q = self._steered(self.embed_text(u.search_text), u, like_ids, dislike_ids)
        facets = {f: v for f, v in u.facets.items() if f in SOFT_FACETS}
        hits = self._retrieve(q, facets, self._hard_filters(u, filters), k, notes)
        ranked = self._rank(hits, facets, k)
        ranked = [replace(h, reasons=h.reasons or ("close to your words",)) for h in ranked]
        return SearchResult(ranked, u, notes=notes)

    def _close(self, hits: list[Hit]) -> bool:
        """A catalog photo nearly the same as the shopper's (a catalog-like photo): its neighbours then say best
        what it shows and how to rank; the photo heads speak for photos with no such neighbour."""
        return bool(hits) and hits[0].score >= self.settings.photo_close_similarity

    def same_product(self, hits: list[Hit], tuned: bool = False, photo: Image.Image | None = None) -> list[str]:
        """The products the shopper's photo shows. With the `photo`: those whose own catalog photo it shows, found
        by matching the details of both (`photo.same_photos` over the `photo_match_candidates` nearest); failing
        that, with photo heads, those whose catalog photo is close enough to be the very product: above the
        similarity the heads were calibrated to (claims right on shopper-style views, almost never made on real
        photos of other things) — for a query through the tuned tail, above its own calibration too —, within a
        margin of the closest (a product listed twice has two). A likeness alone is not a claim without heads."""
        if not hits:
            return []
        s = self.settings
        if photo is not None:
            matches = self.photo_matches(details(photo), hits[: s.photo_match_candidates])
            verified = same_photos(matches, s.photo_match_points, s.photo_match_rest)
            if verified or any(m.points >= s.photo_match_points for m in matches.values()):
                return verified  # the details decide: the very product, or look-alikes too alike to tell apart
        if self.photo_heads is None:
            return []
        least = max(self.photo_heads.card.claim_similarity, hits[0].score - s.photo_exact_margin,
                    self.query_tail.card.claim_similarity if tuned and self.query_tail is not None else 0.0)
        return [h.id for h in hits[:5] if h.score >= least]

    def photo_matches(self, mine: Details, hits: list[Hit]) -> dict[str, Match]:
        """Per hit whose catalog photo can be read, which photo it is and how many of its details the shopper's
        photo (`mine`) shows in place (`photo.matching_points`); each distinct photo is matched once."""
        photos = {h.id: data for h in hits if (data := self._catalog_photo_bytes(h)) is not None}
        digests = {pid: content_hash(data) for pid, data in photos.items()}
        distinct = {digest: photos[pid] for pid, digest in digests.items()}

        def points(data: bytes) -> int | None:  # OpenCV lets go of the GIL: the photos are matched side by side
            try:
                return matching_points(mine, details(decode_image(data)))
            except CatalogError:
                return None
        found = dict(zip(distinct, self._matching.map(points, distinct.values()), strict=True))
        return {pid: Match(digest, n) for pid, digest in digests.items() if (n := found[digest]) is not None}

    def photo_facets(self, reading: PhotoReading, votes: dict[str, dict[str, float]], hits: list[Hit],
                     claimed: list[str]) -> dict[str, str]:
        """What the photo shows: the claimed product's own type, colour, gender and usage; else what the reading
        (the photo heads moved towards the nearest photos' vote) is sure of, with the `photo_lead_facets` of the
        product it most likely shows (`_lead`, the one the ranking puts first) in place; for a catalog-like photo or without
        heads, the vote's choice (its nearest photos are nearly the same: dev photo colour right 0.925 that way,
        0.88 when a split vote says nothing)."""
        if claimed:
            meta = next(h.metadata for h in hits if h.id == claimed[0])
            return {f: meta[f] for f in PHOTO_FACETS if meta.get(f)}
        if reading.probabilities and not self._close(hits):
            said = reading.facets(self.settings.photo_facet_confidence, self.settings.photo_kind_confidence)
            lead = self._lead(reading, hits)
            kinds = reading.probabilities.get("article_type", {})
            if lead is not None and (kinds.get(lead.metadata.get("article_type", ""), 0.0)
                                     >= self.settings.photo_lead_kind_share * max(kinds.values(), default=0.0)):
                said.update({f: lead.metadata[f] for f in self.settings.photo_lead_facets if lead.metadata.get(f)})
            return said
        return {f: max(v.items(), key=lambda kv: kv[1])[0] for f, v in votes.items()}

    def _lead(self, reading: PhotoReading, hits: list[Hit]) -> Hit | None:
        """The catalog product a tuned query most likely shows: its most similar photo among the kinds the photo
        heads read (of any kind when they cannot narrow the kinds down), when at least `photo_lead_similarity`
        similar."""
        if not reading.tuned or not hits:
            return None
        s = self.settings
        kinds = reading.likely("article_type", s.photo_kind_mass, s.photo_kind_most)
        alike = [h for h in hits if not kinds or h.metadata.get("article_type") in kinds]
        if not alike or alike[0].score < s.photo_lead_similarity:
            return None
        mine = reading.colours
        if not s.photo_lead_colour_weight or mine is None:
            return alike[0]

        def agreeing(h: Hit) -> float:  # the same look in another colour loses to the photo's own colours
            theirs = self._catalog_photo_colours(h)
            return h.score + s.photo_lead_colour_weight * (0.0 if theirs is None else colour_agreement(mine, theirs))
        return max((h for h in alike if h.score >= alike[0].score - s.photo_lead_colour_margin), key=agreeing)

    def _catalog_photo_colours(self, hit: Hit) -> np.ndarray | None:
        """The colour histogram of a catalog product's own photo, read once; None when it cannot be read."""
        key = (hit.id, str(hit.metadata.get("image", "")))
        if key not in self._photo_colours:
            data = self._catalog_photo_bytes(hit)
            try:
                self._photo_colours[key] = None if data is None else item_colours(decode_image(data))
            except CatalogError as e:
                log.warning("product %s: its photo cannot be read: %s", hit.id, e)
                self._photo_colours[key] = None
        return self._photo_colours[key]

    def _catalog_photo_bytes(self, hit: Hit) -> bytes | None:
        """A catalog product's own photo file, from this machine only (a photo behind an address is not fetched
        while a shopper waits); None when it cannot be read (said in the log once)."""
        location = str(hit.metadata.get("image", ""))
        if not location or location.startswith(("http://", "https://")) or location in self._unreadable_photos:
            return None
        try:
            return image_bytes(location)
        except OSError as e:
            log.warning("product %s: its photo cannot be read: %s", hit.id, e)
            self._unreadable_photos.add(location)
            return None

    def _lookalike(self, nearest: list[Hit], shown: set[str]) -> Hit | None:
        """The closest catalog photo of any kind not `shown` yet, when the tuned query is close enough to its
        nearest to likely show a catalog product: among the `photo_lookalike_neighbours` nearest, within
        `photo_lookalike_margin` of the nearest."""
        if not nearest or nearest[0].score < self.settings.photo_lead_similarity:
            return None
        least = nearest[0].score - self.settings.photo_lookalike_margin
        return next((h for h in nearest[: self.settings.photo_lookalike_neighbours]
                     if h.score >= least and h.id not in shown), None)

    def _search_photo(self, photo: Image.Image, u: Understanding | None, filters: Filters, k: int,
                      like_ids: tuple[str, ...], dislike_ids: tuple[str, ...]) -> SearchResult:
        notes: list[str] = []
        reading = self.read_photo(photo)
        if reading.whole is not None and self._close(self.index.query(reading.whole, 1, photos=True)):
            reading = reading.as_it_is()  # a catalog photo the item finder cut short
        feats = reading.query
        hard = self._hard_filters(u, filters)
        pool = max(self.settings.candidate_pool // 3, k * 2)
        nearest = self.index.query(feats, pool, hard, photos=True, pool=pool)
        unfiltered = nearest if not hard.active() else self.index.query(feats, 12, photos=True)
        claimed = self.same_product(unfiltered, reading.tuned, photo)
        votes = neighbour_votes(unfiltered, self.settings.photo_vote_neighbours, self.settings.photo_vote_temperature)
        close = self.settings.photo_close_similarity
        reading = reading.with_neighbours(votes, neighbour_weight(unfiltered, self.settings.photo_neighbour_from, close),
                                          neighbour_weight(unfiltered, self.settings.photo_gender_neighbour_from, close))
        seen = self.photo_facets(reading, votes, unfiltered, claimed)
        if u is None:  # photo alone: the very product first, then the same look
            if reading.probabilities and not self._close(unfiltered):
                types = reading.likely("article_type", self.settings.photo_kind_mass, self.settings.photo_kind_most)
            else:
                types = (seen["article_type"],) if "article_type" in seen else ()
            kind = {"article_type": types} if types else {}
            raw = self._retrieve(feats, kind, hard, k, [], photos=True, pool=pool) if kind else nearest
            if like_ids or dislike_ids:  # liked / disliked products steer in the joint space
                img_q = self._steered(self.space.project_image(feats[None])[0], None, like_ids, dislike_ids)
                vecs = self.index.get([h.id for h in raw], vectors=True)
                raw = [replace(h, score=h.score + self.settings.feedback_weight * float(vecs[h.id][1] @ img_q))
                       if h.id in vecs else h for h in raw]
                raw.sort(key=lambda h: -h.score)
            claimed = [i for i in claimed if i in {h.id for h in raw}]
            return SearchResult(self._rank_photo(raw, reading, seen, kind, claimed, k, nearest), None, photo_facets=seen,
                                notes=notes, same_product=claimed, photo=True)
        # photo + words: what the photo shows, changed by what the words ask for
        facets: dict[str, tuple[str, ...]] = {}
        if self.fuser.name == "facet":
            facets = {f: (v,) for f, v in seen.items() if f in ("article_type", "gender")}
            facets.update({f: v for f, v in u.facets.items() if f in SOFT_FACETS})
        if "colour" in u.negative_text or "color" in u.negative_text:  # "not this colour"
            hard = replace(hard, exclude_colour=(*hard.exclude_colour, seen.get("base_colour", "")))
        img_q = self.space.project_image(feats[None])[0]
        q = self.fuser.fuse(img_q, self.embed_text(u.search_text))
        q = self._steered(q, u, like_ids, dislike_ids)
        hits = self._retrieve(q, facets, hard, k, notes)
        ranked = self._rank(hits, facets, k)
        return SearchResult(ranked, u, photo_facets=seen, notes=notes, photo=True)

    def _rank_photo(self, raw: list[Hit], reading: PhotoReading, seen: dict[str, str],
                    kind: dict[str, tuple[str, ...]], claimed: list[str], k: int,
                    nearest: list[Hit] | None = None) -> list[ProductHit]:
        """The very product first (when claimed), then products of the same look: the kinds of product the photo
        shows first, then photo similarity plus, per facet (type, gender, colour), the photo heads' probability
        of the product's value (without heads, a boost for sharing what the nearest photos voted). A tuned query
        close to a catalog photo (`photo_lead_similarity`) puts the most similar photo of those kinds first, and
        keeps a place on the first page for the closest photo of any kind among the `nearest` (not limited to
        those kinds), should the kinds read leave it out."""
        if not raw:
            return []
        facets = ("article_type", "gender", "base_colour")
        if reading.probabilities and not self._close(raw):
            weight = self.settings.photo_facet_weight

            def scored(h: Hit) -> ProductHit:
                return ProductHit(h.id, h.score + weight * sum(reading.probabilities[f].get(h.metadata.get(f, ""), 0.0)
                                                               for f in facets)
                                  + self.settings.facet_boost * all(h.metadata.get(f) in v for f, v in kind.items()),
                                  h.metadata,
                                  tuple(f"{f.replace('base_', '').replace('_', ' ')}: {h.metadata.get(f)}"
                                        for f in facets if f in seen and h.metadata.get(f) == seen[f]))

            ranked = sorted((scored(h) for h in raw), key=lambda p: -p.score)
            lead = self._lead(reading, raw)
            if lead is not None:  # likely a photo of a catalog product: the most similar photo of the kinds it shows
                ranked.sort(key=lambda p: p.id != lead.id)  # stable: the rest keep their order
            place = self.settings.photo_lookalike_place - 1
            lookalike = self._lookalike(nearest or [], {h.id for h in ranked[:place + 1]}) if reading.tuned else None
            if lookalike is not None:
                ranked = [h for h in ranked if h.id != lookalike.id]
                ranked.insert(place, scored(lookalike))
        else:
            ranked = self._rank(raw, {f: (seen[f],) for f in facets if f in seen}, len(raw),
                                boost=self.settings.photo_facet_boost)
        if not claimed and self._close(raw):  # near-duplicates of a catalog-like photo first, by similarity
            near = [h.id for h in raw[:5] if h.score >= raw[0].score - self.settings.photo_exact_margin]
            first = {pid: n for n, pid in enumerate(near)}
            ranked.sort(key=lambda h: (0, first[h.id]) if h.id in first else (1, 0))
        order = {pid: n for n, pid in enumerate(claimed)}
        ranked.sort(key=lambda h: (0, order[h.id]) if h.id in order else (1, 0))  # stable: the rest keep their order
        return [replace(h, reasons=(SAME_PRODUCT,) if h.id in order else ("looks like your photo", *h.reasons))
                for h in ranked[:k]]


def neighbour_votes(hits: list[Hit], n: int, temperature: float) -> dict[str, dict[str, float]]:
    """Per facet, the share of each value among the `n` nearest catalog photos, softmax-weighted by similarity."""
    top = hits[:n]
    if not top:
        return {}
    weights = [float(np.exp((h.score - top[0].score) / temperature)) for h in top]
    out = {}
    for facet in PHOTO_FACETS:
        votes: Counter[str] = Counter()
        for h, w in zip(top, weights, strict=True):
            if h.metadata.get(facet):
                votes[h.metadata[facet]] += w
        total = sum(votes.values())
        if total:
            out[facet] = {v: c / total for v, c in votes.items()}
    return out


def neighbour_weight(hits: list[Hit], lo: float, hi: float) -> float:
    """How far the nearest catalog photos' vote outweighs the photo heads: 0 when the nearest is less similar than
    `lo`, rising linearly to 1 at `hi` (a catalog-like photo)."""
    if not hits:
        return 0.0
    return float(np.clip((hits[0].score - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else float(hits[0].score >= hi)


def _meaningful(u: Understanding) -> bool:
    """Some letters or digits, or at least one understood constraint."""
    return any(ch.isalnum() for ch in u.search_text) or bool(u.facets) or u.max_price is not None


