"""Typed settings for the whole app, in one place, each overridable from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_CATALOG = REPO / "catalog" / "demo"  # shipped: a slice of the fashion catalog (scripts/make_demo_catalog.py)
DEMO_BUNDLE = REPO / "catalog" / "bundle"  # shipped beside it: its model and vectors (`make bundle`)


def _default_catalog() -> str:
    """CATALOG_DIR when set (see `from_env`); else the full fashion catalog in ../shared when this checkout
    has it beside it; else the demo catalog shipped in the repository."""
    shared = REPO.parent / "shared" / "datasets" / "fashion"
    return str(shared) if shared.exists() else str(DEMO_CATALOG)


def _default_real_photos() -> str:
    """Real phone photos of clothes for training the photo heads (their `train` split), when beside the repo."""
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "real-photos"
    return str(shared) if shared.exists() else ""


@dataclass(frozen=True)
class Settings:
    """Every knob of the app. `Settings.from_env()` reads `ASSISTANT_<NAME>` (or the bare
    names below for the usual deployment variables) from the environment."""

    catalog_dir: str = field(default_factory=_default_catalog)
    data_dir: str = "data"
    model_dir: str = ""  # defaults to <data_dir>/model
    index_dir: str = ""  # defaults to <data_dir>/index
    cache_dir: str = ""  # defaults to <data_dir>/cache (feature cache, joined whisper weights)
    # a prebuilt model + vectors (assistant.bundle): its model serves the catalog it was made for on a
    # first start instead of training; its vectors fill the index for products with the same content
    bundle_dir: str = str(DEMO_BUNDLE)
    image_encoder: str = "efficientnet-lite2"
    text_encoder: str = "use-multilingual"
    # base and tiny.en hear each clip and pool their n-best lists (speech.Ensemble); "base" alone is faster
    speech_model: str = "base+tiny.en"
    # CTranslate2 on one thread: as fast for a short request as on two, and its second OpenMP pool
    # would otherwise slow every later PyTorch call in the process by ~2x (measured)
    speech_threads: int = 1
    speech_window_seconds: float = 10.0  # Whisper's encoder window for short requests (30 s = stock Whisper)
    speech_rescore_margin: float = 0.5  # n-best within this (log-prob per token) may win on catalog words
    speech_vote_temperature: float = 0.2  # hypotheses with the same words pool exp(score / this) (speech.readings)
    # a clip made ready for the recognisers (speech.prepare; 0 turns a step off): Silero VAD keeps the
    # words and this much around them; the words brought to this loudness (gain at most max_gain);
    # denoised (DeepFilterNet3) below this SNR
    speech_vad_threshold: float = 0.2  # 0.5 cut the first word of 8 kHz phone clips (Silero starts late there)
    speech_vad_pad_seconds: float = 0.3
    speech_loudness_dbfs: float = -20.0
    speech_max_gain_db: float = 40.0
    speech_denoise_below_snr_db: float = 14.0
    speech_denoise_attenuation_db: float = 100.0
    # a clip from a noisy room (SNR under this) is heard twice more, with the other choice of denoising and slowed
    # to slow_rate, and the three n-best lists pooled (speech.heard_again; dev voice-noisy P@10 0.886 -> 0.960, WER
    # 0.111 -> 0.065, held-out rooms P@10 0.645 -> 0.668; clean clips heard once); 0 turns it off
    speech_hear_again_below_snr_db: float = 35.0
    speech_slow_rate: float = 0.9
    # unsure: the chosen reading has less than this share of the pooled support; then readings with at
    # least alternative_share that lead to other products are offered ("Did you mean …")
    speech_unsure_below: float = 0.6
    speech_alternative_share: float = 0.1
    languages: str = "en,zh"  # what shoppers speak; speech language detection picks among these
    chroma_host: str = ""
    chroma_port: int = 8000
    collection_prefix: str = "products"
    # learned space
    space_dim: int = 256
    train_epochs: int = 40
    train_batch: int = 512
    train_lr: float = 2e-3
    train_temperature: float = 0.05
    fusion_epochs: int = 3
    fusion_examples_per_product: int = 3
    seed: int = 0
    # photo heads (assistant.photo): trained on the catalog's photos, shopper-style views and real photos
    real_photos_dir: str = field(default_factory=_default_real_photos)
    photo_views: int = 4000  # catalog products seen once more as a shopper would photograph them
    photo_view_surfaces: int = 400  # real photos whose corners serve as surfaces for those views
    photo_epochs: int = 30
    photo_min_examples: int = 5  # a facet value needs this many training photos to be predicted
    photo_claim_precision: float = 0.97  # "the same product" must be right this often on held-in views
    photo_claim_stranger_rate: float = 0.01  # ... and said of at most this share of real photos
    photo_facet_confidence: float = 0.5  # what the photo shows is said (and ranked on) from this probability
    photo_kind_confidence: float = 0.3  # ... its type and who it is for from this one (dev: right 0.86-0.89 when said)
    # the query tail: the image encoder's last blocks tuned on shopper-style views (`photo.QueryTail`); 0 views: none
    # per catalog `train` product, and the encoder's last blocks tuned (with its head convolution): held-out views'
    # top-1 0.19 -> 0.38 with two views and two blocks, 0.39 with three (one and one: 0.22 -> 0.33); it peaks at
    # 4-5 epochs; its weights ship as int8 (three blocks: 2.4 MB)
    photo_query_views: int = 2
    photo_query_blocks: int = 3
    photo_query_epochs: int = 4
    photo_query_temperature: float = 0.05
    photo_query_lr: float = 1e-4
    photo_query_strangers: int = 600  # real photos (no catalog product in them) calibrating the claims
    # a photo alone searches the fewest product types the heads give this much probability together (a shoe the
    # heads cannot tell casual from sports searches both), when that takes at most photo_kind_most of them
    # (dev sweep 0.6 / 0.7 / 0.8 / 0.9: realphoto match@1 0.872 / 0.859 / 0.83 / 0.80, shopper R@10 0.70 / 0.71 / 0.73 / 0.74)
    photo_kind_mass: float = 0.7
    photo_kind_most: int = 3
    # ranking
    product_image_weight: float = 0.5
    top_k: int = 24
    sort_pool: int = 48  # sorted by price or discount: the best of this many relevant products, in that order
    candidate_pool: int = 300
    facet_boost: float = 1.0  # ≥ the similarity spread: products with every asked facet rank first
    photo_facet_boost: float = 0.2  # without photo heads: the boost for sharing what the nearest photos voted
    # a nearest catalog photo at least this similar makes a photo catalog-like: its neighbours' vote says what it
    # shows and photo similarity ranks (the photo heads speak for shoppers' photos, which have no such neighbour)
    photo_close_similarity: float = 0.8
    # below this nearest similarity the photo heads alone say what a shopper's photo shows; from it up to
    # photo_close_similarity their probabilities move linearly towards the nearest catalog photos' vote
    # (two-block tail, dev: 0.6 / 0.65 / 0.7 / 0.75 -> shopper R@1 0.545 / 0.53 / 0.49 / 0.475, realphoto match@1
    # 0.817 / 0.852 / 0.857 / 0.861)
    photo_neighbour_from: float = 0.65
    # ... for who it is for, from this one: the nearest catalog photos of a dress are women's even when the heads
    # read "men" (dev shopper, simulated on the same readings: from 0.65 / 0.45 / 0 -> gender right 0.90 / 0.93 /
    # 0.945, R@10 0.80 / 0.81 / 0.805). The colour keeps photo_neighbour_from: from the vote it was right more
    # often on shopper-style views (0.455 -> 0.555) but on real photos it went mostly unsaid where the heads'
    # was right (24 dev real photos looked at: 15 changed, nearly all to none)
    photo_gender_neighbour_from: float = 0.0
    # a tuned query whose nearest catalog photo is at least this similar likely shows a catalog product: the most
    # similar photo among the kinds it shows comes first, before the heads' colour and gender weigh in
    # (dev, simulated: 0.6 / 0.65 / off -> shopper R@1 0.585 / 0.575 / 0.56, photo R@1 0.94, realphoto 0.852)
    photo_lead_similarity: float = 0.6
    # ... and what that product is (these facets of it) is what the photo is said to show, as the words of a photo +
    # words request keep it (dev, none / type / type and gender -> composed-shopper P@10 0.783 / 0.789 / 0.809,
    # shopper type right 0.890 / 0.925 / 0.925, gender 0.955 / 0.955 / 0.960, realphoto type 0.874 / 0.870 / 0.870;
    # its colour was not taken: on real photos, where no catalog product is in the picture, it was mostly wrong)
    photo_lead_facets: tuple[str, ...] = ("article_type", "gender")
    # ... when the heads give its type at least this share of their likeliest type's probability (a yellow T-shirt
    # whose nearest photo is a yellow vest the heads barely considered stays a T-shirt; dev at 0 / 0.2 / 0.3 / 0.5:
    # shopper type right 0.925 / 0.93 / 0.93 / 0.92, composed-shopper 0.809 / 0.812 / 0.812 / 0.798, realphoto type
    # 0.870 at each; dev dialogues turn success 0.958 at 0, 0.983 at 0.3)
    photo_lead_kind_share: float = 0.3
    # ... and among the photos of those kinds within this similarity of the most similar (a product shot in other
    # colours looks alike to the tuned query, which reads through colour casts), the lead is the one most similar
    # plus this weight times the agreement of its catalog photo's colours with the item's own pixels
    # (Bhattacharyya coefficient of the two colour histograms); 0 turns it off. Dev, through the engine, weight 0 /
    # 0.05 / 0.1 / 0.2 at margin 0.04: shopper R@1 0.600 / 0.645 / 0.640 / 0.640, R@10 0.855 / 0.860 / 0.860 / 0.860,
    # composed-shopper P@10 0.812 / 0.818 / 0.816 / 0.800; margin 0.02 / 0.08 at 0.1: R@1 0.640 / 0.645; realphoto
    # and photo unchanged at each
    photo_lead_colour_margin: float = 0.04
    photo_lead_colour_weight: float = 0.05
    # a shopper's photo through the tuned tail: the whole photo's tuned query added to the item's at this weight
    # (a second crop holding all of the item where the finder cut it short; dev, through the engine, 0 / 0.2 /
    # 0.3 / 0.4 / 0.5 -> shopper R@1 0.575 / 0.59 / 0.60 / 0.585 / 0.585, R@10 0.85 / 0.855 / 0.855 / 0.86 / 0.87,
    # composed-shopper 0.769 / 0.778 / 0.783 / 0.771 / 0.781, realphoto match@1 0.850 / 0.852 / 0.854 / 0.85 / 0.852)
    photo_whole_weight: float = 0.3
    # ... and the first page keeps a place (this one, 1-based) for the most similar catalog photo of any kind
    # among the nearest few, within a margin of the nearest, when the kinds read leave it out: a misread type
    # (a kurta read as a top, a jacket as a sweatshirt) no longer hides the very product (dev shopper, simulated:
    # margin 0.04 / 0.06 / 0.08 / none -> R@10 0.84 / 0.845 / 0.85 / 0.85, similar@10 0.407 / 0.403 / 0.403 / 0.40)
    photo_lookalike_place: int = 10
    photo_lookalike_neighbours: int = 5
    photo_lookalike_margin: float = 0.08
    photo_facet_weight: float = 0.1  # with photo heads: per facet, times the heads' probability of the product's value
    feedback_weight: float = 0.3  # how far likes / dislikes move a photo search
    photo_exact_margin: float = 0.05
    # "the same product" when the shopper's photo shows a catalog photo's own details (`photo.same_photos`): among
    # this many nearest catalog photos, the most matched with at least photo_match_points points and every other
    # photo at most photo_match_rest of it (`scripts/claim_check.py` measures it on shopper-style views of `train`
    # products and on `train` real photos)
    photo_match_candidates: int = 8
    photo_match_points: int = 8
    photo_match_rest: float = 0.7
    photo_vote_neighbours: int = 12
    photo_vote_temperature: float = 0.02
    fusion: str = "facet"
    fusion_alpha: float = 0.5
    # product photos as the app serves them (resized JPEGs, cached by browsers): longest side in pixels
    photo_thumb_side: int = 160
    photo_card_side: int = 360
    photo_page_side: int = 900
    photo_max_age_seconds: int = 86_400
    # the fitting room (assistant.tryon): its model files (fetched at install, `python -m assistant.tryon.models`),
    # the size it works and answers at (longest side, px) and what a usable photo of a person must show
    tryon_models_dir: str = str(REPO / ".cache" / "tryon")
    tryon_side: int = 512
    tryon_min_visibility: float = 0.5  # shoulders and hips seen at least this surely (BlazePose visibility)
    tryon_min_shoulder_share: float = 0.08  # shoulder width at least this share of the photo's width
    tryon_other_person_share: float = 0.5  # a second person this tall relative to the first: not one person
    # the spline's smoothing (in photo-size units): landmarks are a few pixels off, an exact fit follows the noise
    tryon_smoothing: float = 0.01
    # limits
    max_query_chars: int = 500
    max_image_pixels: int = 40_000_000
    max_upload_bytes: int = 20_000_000
    max_audio_seconds: float = 30.0
    threads: int = 2
    # the API's searches at once: one in words, one photo or voice (measured best on 2 cores, `make load`)
    text_concurrency: int = 1
    media_concurrency: int = 1

    @property
    def model_path(self) -> Path:
        return Path(self.model_dir or Path(self.data_dir) / "model")

    @property
    def index_path(self) -> Path:
        return Path(self.index_dir or Path(self.data_dir) / "index")

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir or Path(self.data_dir) / "cache")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        aliases = {"catalog_dir": "CATALOG_DIR", "chroma_host": "CHROMA_HOST",
                   "chroma_port": "CHROMA_PORT", "data_dir": "DATA_DIR"}
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"ASSISTANT_{f.name.upper()}") or os.environ.get(aliases.get(f.name, "\0"))
            if raw is None or raw == "":
                continue
            kind = type(f.default) if not callable(f.default_factory) else str  # type: ignore[misc]
            values[f.name] = tuple(v.strip() for v in raw.split(",") if v.strip()) if kind is tuple else kind(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
