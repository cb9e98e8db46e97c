"""The shopper-facing Gradio app: one chat box (words, photo, voice), product cards, filter chips,
likes and dislikes, offline examples, and named API endpoints.

The conversation logic (`Assistant`) and the rendering (`render_cards`, `chip_choices`, replies) are
plain functions over an `Engine` and a `Session`, testable without a browser; `build_demo` only wires
them to gradio components. Shoppers' photos and recordings are read into memory and the files gradio
saved for them are deleted at once (`discard_upload`); nothing of them is stored or logged.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import logging
import mimetypes
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.data_classes import FileData

from . import chat
from .chat import Reply, pretty_reason
from .config import Settings
from .encoders.base import ModelFileError
from .errors import InputError
from .index import IndexUnavailable
from .session import PAGE_SIZE, Constraints, Session, rupees, summarize

if TYPE_CHECKING:
    from .engine import Engine, SearchResult

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent.parent / "assets"
VOICE_DIR = ASSETS / "voice"
TEXT_EXAMPLES = ("black heels under 1500 rupees", "blue jeans for men", "red dress for a party",
                 "我想买1000元以下的女士手提包", "男士黑色运动鞋")
PHOTO_EXAMPLES = 8


# ---------------------------------------------------------------------------------------------------
# photos, uploads, privacy
# ---------------------------------------------------------------------------------------------------
def upload_folder() -> Path:
    """Where gradio saves uploads (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def discard_upload(path: str | Path | None) -> None:
    """Delete a file gradio saved for a shopper's upload (and its folder if empty). Files outside
    gradio's upload folder (our examples, catalog photos) are never touched."""
    if not path:
        return
    p = Path(path).resolve()
    root = upload_folder()
    if root not in p.parents:
        return
    p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        p.parent.rmdir()


def read_and_discard(path: str | Path) -> bytes:
    """An upload's bytes, its file deleted straight away."""
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InputError("that file could not be read; please try again") from None
    finally:
        discard_upload(path)


AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".flac", ".webm", ".opus", ".aac", ".amr", ".3gp", ".mp4"}


def is_audio(path: str | Path, data: bytes = b"") -> bool:
    """A recording rather than a photo: by its first bytes when known, else by its name."""
    head = data[:16]
    if head:
        if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\0", b"MM\0*")) or head[8:12] == b"WEBP":
            return False
        if head[4:8] == b"ftyp":  # MP4 family: HEIC/AVIF photos or M4A/MP4 sound
            return head[8:12] not in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc")
        if head.startswith((b"OggS", b"fLaC", b"ID3", b"\x1aE\xdf\xa3", b"#!AMR", b"\xff\xf1", b"\xff\xf9", b"\xff\xfb",
                            b"\xff\xf3", b"\xff\xf2")) or (head.startswith(b"RIFF") and head[8:12] == b"WAVE"):
            return True
    kind = mimetypes.guess_type(str(path))[0] or ""
    return kind.startswith(("audio/", "video/")) or Path(path).suffix.lower() in AUDIO_SUFFIXES


def photo_data_uri(data: bytes, side: int = 240) -> str:
    from .catalog import decode_image

    im = decode_image(data)
    im.thumbnail((side, side))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


@lru_cache(maxsize=4096)
def image_src(location: str) -> str:
    """A catalog photo for an <img>: a URL as it is, a local file as a small data URI."""
    if not location or location.startswith(("http://", "https://", "data:")):
        return location
    try:
        data = Path(location).read_bytes()
    except OSError:
        return ""
    kind = mimetypes.guess_type(location)[0] or ""
    if len(data) <= 40_000 and kind in ("image/jpeg", "image/png", "image/webp"):
        return f"data:{kind};base64," + base64.b64encode(data).decode()
    try:
        return photo_data_uri(data, 360)
    except InputError:
        return ""


# ---------------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------------
_SVG = ('<svg viewBox="0 0 24 24" width="{size}" height="{size}" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{path}</svg>')
THUMB_UP = _SVG.format(size=15, path='<path d="M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z'
                                     'M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"/>')
THUMB_DOWN = _SVG.format(size=15, path='<path d="M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z'
                                       'm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"/>')
BAG = _SVG.format(size=30, path='<path d="M6 2L3 6v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6l-3-4z"/>'
                                '<line x1="3" y1="6" x2="21" y2="6"/>'
                                '<path d="M16 10a4 4 0 0 1-8 0"/>')
EMPTY_GRID = """<div class="sa-empty"><div class="sa-empty-icon">{BAG}</div>
<div class="sa-empty-title">Your finds will show up here</div>
<div class="sa-empty-text">Describe what you want, drop in a photo, or tap the mic — in English or 中文.</div>
</div>""".replace("{BAG}", BAG)


def _price_html(p: dict) -> str:
    sale, price = p.get("sale_price"), p.get("price")
    if sale is None:
        return '<span class="sa-sale">Price on request</span>'
    out = f'<span class="sa-sale">{rupees(sale)}</span>'
    if price is not None and sale < price:
        pct = round((price - sale) / price * 100)
        out += f' <span class="sa-was">{rupees(price)}</span> <span class="sa-pct">{pct}% off</span>'
    return out


def discount(p: dict) -> int:
    sale, price = p.get("sale_price"), p.get("price")
    return round((price - sale) / price * 100) if sale is not None and price and sale < price else 0


def card_html(p: dict, n: int, liked: bool = False, disliked: bool = False) -> str:
    """One product card: photo, brand, title, price (sale + discount), why it matched, actions."""
    e = html.escape
    why = " · ".join(pretty_reason(r) for r in p.get("reasons") or ())
    off = discount(p)
    state = " sa-liked" if liked else (" sa-disliked" if disliked else "")
    attrs = (f'data-id="{e(p["id"])}" data-price="{p["sale_price"] if p.get("sale_price") is not None else ""}" '
             f'data-type="{e(p.get("article_type", ""))}" data-colour="{e(p.get("base_colour", ""))}" '
             f'data-gender="{e(p.get("gender", ""))}" data-brand="{e(p.get("brand", ""))}"')
    return (
        f'<div class="sa-card{state}" {attrs}>'
        f'<div class="sa-img"><img loading="lazy" src="{image_src(p.get("image", ""))}" alt="{e(p["title"])}">'
        f'<span class="sa-num">#{n}</span>' + (f'<span class="sa-off">−{off}%</span>' if off else "") + "</div>"
        f'<div class="sa-body"><div class="sa-brand">{e(p.get("brand") or "")}</div>'
        f'<div class="sa-title" title="{e(p["title"])}">{e(p["title"])}</div>'
        f'<div class="sa-price">{_price_html(p)}</div>'
        + (f'<div class="sa-why" title="why it matched">✓ {e(why)}</div>' if why else "")
        + '<div class="sa-actions">'
        f'<button class="sa-btn sa-like{" sa-on" if liked else ""}" data-action="like" data-id="{e(p["id"])}" '
        f'title="More like this" aria-label="Like #{n}">{THUMB_UP}</button>'
        f'<button class="sa-btn sa-dislike{" sa-on" if disliked else ""}" data-action="dislike" data-id="{e(p["id"])}" '
        f'title="Less like this" aria-label="Dislike #{n}">{THUMB_DOWN}</button>'
        f'<button class="sa-btn sa-similar" data-action="similar" data-id="{e(p["id"])}">Similar</button>'
        "</div></div></div>")


def render_cards(products: Sequence[dict], heading: str = "", likes: Sequence[str] = (),
                 dislikes: Sequence[str] = ()) -> str:
    """The result grid (or the friendly empty state)."""
    if not products:
        return EMPTY_GRID
    head = f'<div class="sa-head">{html.escape(heading)}</div>' if heading else ""
    cards = "".join(card_html(p, i + 1, p["id"] in likes, p["id"] in dislikes) for i, p in enumerate(products))
    return f'{head}<div class="sa-grid">{cards}</div>'


def chip_choices(c: Constraints) -> tuple[list[tuple[str, str]], list[str]]:
    """(choices, ticked) for the chips CheckboxGroup: every active constraint, all ticked."""
    choices = c.chips()
    return choices, [key for _, key in choices]


def photo_strip(examples: Sequence[tuple[str, dict]]) -> str:
    """Clickable catalog photos ("try a photo")."""
    if not examples:
        return ""
    items = "".join(
        f'<button class="sa-ex" data-action="photo" data-id="{html.escape(pid)}" title="{html.escape(str(m.get("title", "")))}">'
        f'<img src="{image_src(str(m.get("image", "")))}" alt="{html.escape(str(m.get("article_type", "")))}"></button>'
        for pid, m in examples)
    return f'<div class="sa-strip">{items}</div>'


def user_message(text: str = "", photo: bytes | None = None, photo_path: str = "", voice: str | None = None) -> str:
    """What the shopper sent, as a chat message (their photo as a small inline thumbnail). Their words are
    shown as typed: markup in them ("<script>", "<img onerror=…>") is escaped, never rendered."""
    parts = []
    if voice is not None:
        parts.append(f"🎤 I heard: “{html.escape(voice, quote=False)}”" if voice else "🎤 voice message")
    if text:
        parts.append(html.escape(text, quote=False))
    src = ""
    if photo is not None:
        try:
            src = photo_data_uri(photo, 160)
        except InputError:
            src = ""
    elif photo_path:
        src = image_src(photo_path)
    if src:
        parts.append(f'<img src="{src}" alt="your photo" class="sa-chat-photo">')
    return "\n\n".join(parts) or "…"


class Assistant(chat.Assistant):
    """The conversation (`assistant.chat`), with the shopper's turns shown as chat messages."""

    show_user = staticmethod(user_message)


# ---------------------------------------------------------------------------------------------------
# the API (gradio_client): JSON in the same shape for the three endpoints
# ---------------------------------------------------------------------------------------------------
def api_payload(result: SearchResult, transcript: str = "", language: str = "") -> dict[str, Any]:
    u = result.understanding
    return {"products": [summarize(h.id, h.product, h.score, h.reasons) for h in result.hits],
            "understood": u.chips() if u else [], "photo": result.photo_description(),
            "transcript": transcript, "language": language or (u.language if u else ""), "notes": list(result.notes)}


# ---------------------------------------------------------------------------------------------------
# the engine, built in the background
# ---------------------------------------------------------------------------------------------------
class EngineLoader:
    """Builds the engine in a background thread (first run: trains and indexes) so the page can
    show "getting ready" meanwhile; then picks catalog photos for the examples and warms up speech."""

    def __init__(self, build: Callable[[], Engine], warm_speech: bool = True) -> None:
        self._build = build
        self.warm_speech = warm_speech
        self.engine: Engine | None = None
        self.error = ""
        self.stage = "starting"
        self.examples: list[tuple[str, dict]] = []
        self.choices: dict[str, list[str]] = {}
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EngineLoader:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="engine-loader", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.stage = "loading the models and the product index"
            engine = self._build()
            self.examples = pick_examples(engine, PHOTO_EXAMPLES)
            values = engine.vocabulary.values
            self.choices = {f: sorted(v for v in values.get(f, {}) if v and v.upper() != "NA")
                            for f in ("gender", "article_type", "base_colour")}
            if self.warm_speech:
                self.stage = "loading the speech model"
                try:
                    engine.transcribe(silent_wav())
                except ModelFileError as e:  # speech is optional: words and photos still work
                    log.warning("voice search is off: %s", e)
                except Exception:
                    log.warning("speech model could not be loaded; voice search is off", exc_info=True)
            self.engine = engine
            self.stage = "ready"
        except InputError as e:
            self.error, self.stage = str(e), "failed"
        except (ModelFileError, IndexUnavailable) as e:  # the message names the file or the store
            log.error("the assistant could not start: %s", e)
            self.error, self.stage = f"The assistant could not start: {e}", "failed"
        except Exception as e:
            log.exception("the assistant could not start")
            self.error, self.stage = f"The assistant could not start: {e}", "failed"
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self.engine is not None

    def wait(self, timeout: float | None = None) -> Engine | None:
        self._done.wait(timeout)
        return self.engine

    def status_html(self) -> str:
        if self.ready:
            return ""
        if self.error:
            return (f'<div class="sa-status sa-failed"><b>The assistant can\'t start.</b> '
                    f"{html.escape(self.error)}</div>")
        return ('<div class="sa-status"><span class="sa-spin"></span> <b>Getting ready…</b> '
                f"{html.escape(self.stage)}. The first start trains the model and indexes the catalog, which can "
                "take a few minutes (progress is shown in the terminal).</div>")


def pick_examples(engine: Engine, n: int) -> list[tuple[str, dict]]:
    """Catalog photos of different kinds of product, for the "try a photo" strip."""
    out: list[tuple[str, dict]] = []
    kinds: set[str] = set()
    for pid, meta in engine.index.sample(max(200, n * 20)):
        kind = str(meta.get("article_type") or "")
        image = str(meta.get("image") or "")
        if kind in kinds or not image or (not image.startswith("http") and not Path(image).is_file()):
            continue
        kinds.add(kind)
        out.append((pid, meta))
        if len(out) == n:
            break
    return out


def silent_wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def voice_examples() -> list[tuple[str, Path]]:
    """(what is said, clip) of the generated voice examples in assets/voice."""
    out = []
    for clip in sorted(VOICE_DIR.glob("*.wav")):
        words = clip.with_suffix(".txt")
        said = words.read_text(encoding="utf-8").strip() if words.is_file() else clip.stem.replace("-", " ")
        out.append((said, clip))
    return out


# ---------------------------------------------------------------------------------------------------
# gradio wiring
# ---------------------------------------------------------------------------------------------------
CSS = """
.gradio-container {max-width: 1440px !important; margin: 0 auto !important;}
#sa-header {display:flex; align-items:center; gap:14px; padding: 6px 4px 2px;}
#sa-header .sa-logo {color: var(--color-accent); display: flex; background: var(--color-accent-soft); border-radius: 14px;
  padding: 9px;}
#sa-left {position: sticky; top: 8px; align-self: flex-start;}
#sa-header h1 {margin:0; font-size: 24px; font-weight: 750; letter-spacing: -0.01em;}
#sa-header p {margin:2px 0 0; color: var(--body-text-color-subdued); font-size: 14px;}
.sa-status {border-radius: 12px; padding: 12px 16px; background: #fff7ed; border: 1px solid #fed7aa; color: #9a3412;
  font-size: 14px;}
.sa-status.sa-failed {background: #fef2f2; border-color: #fecaca; color: #991b1b;}
.sa-spin {display:inline-block; width:12px; height:12px; border:2px solid #fdba74; border-top-color:#ea580c; border-radius:50%;
  animation: sa-rot 0.8s linear infinite; vertical-align: -1px;}
@keyframes sa-rot {to {transform: rotate(360deg);}}
.sa-section {font-size: 12px; font-weight: 650; text-transform: uppercase; letter-spacing: .06em;
  color: var(--body-text-color-subdued); margin: 4px 2px 0;}
.sa-pills {gap: 6px !important; flex-wrap: wrap !important;}
.sa-pills button {flex: 0 0 auto !important; min-width: 0 !important; border-radius: 999px !important;
  font-weight: 500 !important; padding: 4px 12px !important;}
#sa-chat .message-content img {max-width: 150px !important; max-height: 190px !important; border-radius: 10px;
  display: block; object-fit: contain;}
#sa-chips label {border-radius: 999px !important;}
#sa-chips .wrap {gap: 6px !important;}
"""

GRID_CSS = """
.sa-head {font-size: 13px; color: var(--body-text-color-subdued); margin: 2px 2px 10px;}
.sa-grid {display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 14px;}
.sa-card {background: var(--background-fill-primary); border: 1px solid var(--border-color-primary); border-radius: 14px;
  overflow: hidden; display: flex; flex-direction: column; box-shadow: 0 1px 3px rgba(0,0,0,.05);
  transition: transform .12s ease, box-shadow .12s ease;}
.sa-card:hover {transform: translateY(-2px); box-shadow: 0 8px 20px rgba(0,0,0,.10);}
.sa-card.sa-liked {border-color: #16a34a; box-shadow: 0 0 0 2px rgba(22,163,74,.35);}
.sa-card.sa-disliked {opacity: .55;}
.sa-img {position: relative; background: #f5f5f4; aspect-ratio: 3 / 4; display: flex; align-items: center;
  justify-content: center;}
.sa-img img {width: 100%; height: 100%; object-fit: contain; mix-blend-mode: multiply;}
.sa-num {position: absolute; top: 8px; left: 8px; background: rgba(17,24,39,.78); color: #fff; font-size: 11px;
  font-weight: 600; border-radius: 999px; padding: 2px 8px;}
.sa-off {position: absolute; top: 8px; right: 8px; background: #e11d48; color: #fff; font-weight: 700; font-size: 11px;
  border-radius: 6px; padding: 2px 6px;}
.sa-body {padding: 10px 12px 12px; display: flex; flex-direction: column; gap: 4px; flex: 1;}
.sa-brand {font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--body-text-color-subdued);
  font-weight: 700;}
.sa-title {font-size: 13.5px; line-height: 1.3; color: var(--body-text-color); display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; min-height: 2.6em;}
.sa-price {display: flex; gap: 6px; align-items: baseline; flex-wrap: wrap; margin-top: 2px;}
.sa-sale {font-size: 16px; font-weight: 750; color: var(--body-text-color);}
.sa-was {font-size: 12px; color: #9ca3af; text-decoration: line-through;}
.sa-pct {font-size: 12px; color: #e11d48; font-weight: 650;}
.sa-why {font-size: 11.5px; color: #166534; background: #f0fdf4; border-radius: 8px; padding: 3px 7px; line-height: 1.35;}
.sa-actions {display: flex; gap: 6px; margin-top: auto; padding-top: 6px;}
.sa-btn {display: inline-flex; align-items: center; justify-content: center; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-primary); color: var(--body-text-color);
  border-radius: 8px; padding: 4px 8px; cursor: pointer; font-size: 13px; line-height: 1.2;}
.sa-btn:hover {background: var(--background-fill-secondary);}
.sa-btn.sa-similar {flex: 1; font-size: 12px; font-weight: 600;}
.sa-like.sa-on {background: #dcfce7; border-color: #16a34a;}
.sa-dislike.sa-on {background: #fee2e2; border-color: #dc2626;}
.sa-empty {text-align: center; padding: 70px 20px; border: 2px dashed var(--border-color-primary); border-radius: 16px;
  color: var(--body-text-color-subdued);}
.sa-empty-icon {color: var(--color-accent); display: flex; justify-content: center;}
.sa-empty-title {font-size: 18px; font-weight: 650; color: var(--body-text-color); margin: 6px 0 4px;}
.sa-strip {display: flex; gap: 8px; flex-wrap: wrap;}
.sa-ex {width: 62px; height: 80px; padding: 0; border: 1px solid var(--border-color-primary); border-radius: 10px;
  overflow: hidden;
  background: #f5f5f4; cursor: pointer;}
.sa-ex:hover {outline: 2px solid var(--color-accent);}
.sa-ex img {width: 100%; height: 100%; object-fit: contain; mix-blend-mode: multiply;}
"""

CLICK_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-action]');
  if (!b || !element.contains(b)) return;
  ev.preventDefault();
  trigger('click', {action: b.dataset.action, product: b.dataset.id});
});
"""


def _engine_or_none(loader: EngineLoader) -> Engine | None:
    return loader.engine if loader.ready else None


def _not_ready_text(loader: EngineLoader) -> str:
    if loader.error:
        return f"Sorry — the assistant can't start: {loader.error}"
    return "I'm still getting ready (loading the models and the catalog). Please try again in a moment."


def answer(loader: EngineLoader, session: Session, turn: Callable[[Assistant], Reply]) -> Reply:
    """Run one turn; whatever goes wrong becomes a message in the chat, never a crash."""
    engine = _engine_or_none(loader)
    if engine is None:
        return Reply(session, _not_ready_text(loader), ok=False)
    try:
        return turn(Assistant(engine))
    except IndexUnavailable as e:
        log.warning("%s", e)  # the operator's line: which store is down
        return Reply(session, f"⚠️ {e}", ok=False)
    except InputError as e:
        return Reply(session, f"⚠️ {e}", ok=False)
    except ModelFileError as e:  # the speech model, loaded on the first voice request
        log.error("a model file is unusable: %s", e)
        return Reply(session, "⚠️ Voice search is unavailable right now; please type your request.", ok=False)
    except Exception:
        log.exception("a search failed")  # the shopper's words, photo or voice are never logged
        return Reply(session, "⚠️ Something went wrong on our side. Please try again.", ok=False)


def read_uploads(files: Sequence[Any]) -> tuple[bytes | None, bytes | None]:
    """(first photo, first recording) of what was attached, read into memory; every upload file is
    deleted, used or not."""
    photo = audio = None
    paths = [f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", None))
             for f in files or ()]
    try:
        for path in paths:
            if not path:
                continue
            data = read_and_discard(path)
            if is_audio(path, data):
                audio = data if audio is None else audio
            else:
                photo = data if photo is None else photo
    finally:
        for path in paths:
            discard_upload(path)
    return photo, audio


def build_demo(loader: EngineLoader, title: str = "Shopping assistant") -> gr.Blocks:
    """The app. `loader` provides the engine once it is ready."""

    def outputs_for(reply: Reply, history: list[dict]) -> tuple:
        """Values for [chat, state, grid, chips, min, max, gender, category, colour]."""
        s = reply.session
        if reply.text:
            history = [*history, {"role": "assistant", "content": reply.text,
                                  **({"options": [{"label": f"Did you mean: {a}", "value": a} for a in reply.alternatives]}
                                     if reply.alternatives else {})}]
        if not reply.changed:
            return (history, s, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        choices, ticked = chip_choices(s.constraints)
        c = s.constraints
        return (history, s, render_cards(reply.cards, reply.heading, s.likes, s.dislikes),
                gr.update(choices=choices, value=ticked, visible=bool(choices)), c.min_price, c.max_price,
                gr.update(value=list(c.gender)), gr.update(value=list(c.article_type)), gr.update(value=list(c.colour)))

    def run_turn(history: list[dict], session: Session, user: str, turn: Callable[[Assistant], Reply]) -> Iterator[tuple]:
        """Show the shopper's message at once, then the answer (errors become a chat message)."""
        history = list(history or [])
        if user:
            history.append({"role": "user", "content": user})
        yield (history, session, *(gr.skip(),) * 7)
        reply = answer(loader, session, turn)
        if reply.user and reply.user != user:
            if user:
                history[-1] = {"role": "user", "content": reply.user}
            else:
                history.append({"role": "user", "content": reply.user})
        yield outputs_for(reply, history)

    def on_submit(box: dict | None, history: list[dict], session: Session) -> Iterator[tuple]:
        """The chat box: words, photos, recordings. Uploaded files are read and deleted at once."""
        box = box or {}
        text = str(box.get("text") or "").strip()
        try:
            photo, audio = read_uploads(box.get("files") or [])
        except InputError as e:
            yield (*outputs_for(Reply(session, f"⚠️ {e}", ok=False), list(history or [])), gr.update(interactive=True))
            return
        shown = user_message(text, photo, voice=None if audio is None else "")
        turns = run_turn(history, session, shown, lambda a: a.message(session, text, photo=photo, audio=audio))
        yield (*next(turns), gr.update(value=None, interactive=False))
        for values in turns:
            yield (*values, gr.update(interactive=True))

    def example_text(text: str) -> Callable[[list[dict], Session], Iterator[tuple]]:
        def handler(history: list[dict], session: Session) -> Iterator[tuple]:
            yield from run_turn(history, session, user_message(text), lambda a: a.message(session, text))
        return handler

    def example_voice(clip: str) -> Callable[[list[dict], Session], Iterator[tuple]]:
        def handler(history: list[dict], session: Session) -> Iterator[tuple]:
            yield from run_turn(history, session, user_message(voice=""), lambda a: a.message(session, audio=clip))
        return handler

    def on_did_you_mean(history: list[dict], session: Session, evt: gr.SelectData) -> Iterator[tuple]:
        """A "Did you mean: …" chip: that reading of the shopper's clip, asked as if typed."""
        text = str(evt.value or "").strip()
        yield from run_turn(history, session, user_message(text), lambda a: a.message(session, text))

    def on_photo_example(history: list[dict], session: Session, evt: gr.EventData) -> Iterator[tuple]:
        pid = str((getattr(evt, "_data", None) or {}).get("product") or "")
        meta = dict(loader.examples).get(pid)
        if meta is None:
            yield (history, session, *(gr.skip(),) * 7)
            return
        path = str(meta.get("image", ""))
        yield from run_turn(history, session, user_message(photo_path=path), lambda a: a.message(session, photo_path=path))

    def on_card(history: list[dict], session: Session, evt: gr.EventData) -> Iterator[tuple]:
        data = getattr(evt, "_data", {}) or {}
        action, pid = str(data.get("action") or ""), str(data.get("product") or "")
        if action not in ("like", "dislike", "similar") or not pid:
            yield (history, session, *(gr.skip(),) * 7)
            return
        yield from run_turn(history, session, "", lambda a: a.card_action(session, action, pid))

    def on_chips(keys: list[str], history: list[dict], session: Session) -> Iterator[tuple]:
        yield from run_turn(history, session, "", lambda a: a.set_chips(session, keys or []))

    def on_apply(lo: float | None, hi: float | None, gender: list[str], kind: list[str], colour: list[str],
                 history: list[dict], session: Session) -> Iterator[tuple]:
        yield from run_turn(history, session, "",
                            lambda a: a.set_filters(session, lo, hi, gender or [], kind or [], colour or []))

    def on_reset() -> tuple:
        return ([], Session(), EMPTY_GRID, gr.update(choices=[], value=[], visible=False), None, None,
                gr.update(value=[]), gr.update(value=[]), gr.update(value=[]), gr.update(value=None))

    def on_tick() -> tuple:
        if not loader.ready and not loader.error:
            return (loader.status_html(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        ch = loader.choices
        return (loader.status_html(), gr.Timer(active=False), photo_strip(loader.examples),
                gr.update(choices=ch.get("gender", [])), gr.update(choices=ch.get("article_type", [])),
                gr.update(choices=ch.get("base_colour", [])))

    # -- API --------------------------------------------------------------------------------------
    def _api_engine() -> Engine:
        engine = _engine_or_none(loader)
        if engine is None:
            raise gr.Error(_not_ready_text(loader), print_exception=False)  # the loader has logged why
        return engine

    def _api_search(**kwargs: Any) -> SearchResult:
        try:
            return _api_engine().search(**kwargs)
        except IndexUnavailable as e:  # one line for the operator, not a traceback per request
            log.warning("%s", e)
            raise gr.Error(str(e), print_exception=False) from None
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def _api_upload(value: Any) -> bytes:
        """An uploaded file's bytes, its file deleted at once (an unreadable upload is the shopper's error)."""
        try:
            return read_and_discard(_file_path(value))
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def search_text(query: str, min_price: float | None = None, max_price: float | None = None,
                    top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products for a request in words (English or Chinese). Returns {"products": [...], "understood": [...], ...}."""
        from .index import Filters

        result = _api_search(text=query, filters=Filters(min_price=min_price, max_price=max_price),
                             top_k=max(1, min(int(top_k), 100)))
        return api_payload(result)

    def search_image(image: FileData, query: str = "", top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products that look like a photo (optionally changed by words: "but in red")."""
        data = _api_upload(image)
        result = _api_search(text=query or None, image=data, top_k=max(1, min(int(top_k), 100)))
        return api_payload(result)

    def search_voice(audio: FileData, top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products for a spoken request (wav, mp3, webm …); the transcript is returned too."""
        data = _api_upload(audio)
        engine = _api_engine()
        try:
            tr = engine.transcribe(data)
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None
        except ModelFileError as e:
            log.error("a model file is unusable: %s", e)
            raise gr.Error("voice search is unavailable right now; please type your request",
                           print_exception=False) from None
        if not tr.text:
            raise gr.Error(tr.note or "no words were heard in that recording", print_exception=False)
        result = _api_search(text=tr.text, top_k=max(1, min(int(top_k), 100)))
        payload = api_payload(result, transcript=tr.text, language=tr.language)
        payload["notes"] += [tr.note] if tr.note else []  # e.g. only the first 30 seconds were used
        payload.update(confidence=tr.confidence, alternatives=list(tr.alternatives))  # other readings when unsure
        return payload

    # -- layout -----------------------------------------------------------------------------------
    with gr.Blocks(title=title, delete_cache=(600, 900)) as demo:
        session = gr.State(Session(), time_to_live=6 * 3600)
        gr.HTML(f'<div id="sa-header"><div class="sa-logo">{BAG}</div><div><h1>Shopping assistant</h1>'
                "<p>Describe it, show a photo, or just say it — in English or 中文. Prices in ₹.</p></div></div>")
        status = gr.HTML(loader.status_html(), elem_id="sa-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=340, elem_id="sa-left"):
                chat = gr.Chatbot(elem_id="sa-chat", height=520, show_label=False, sanitize_html=True,
                                  placeholder="**Hi! What are you shopping for today?**<br>"
                                              "Try “black heels under 1500 rupees”, add a photo, or record your voice.",
                                  feedback_options=None, buttons=["copy", "copy_all"])
                box = gr.MultimodalTextbox(elem_id="sa-input", show_label=False, sources=["upload", "microphone"],
                                           file_types=["image", "audio"], file_count="multiple", autofocus=True,
                                           placeholder="What are you looking for? (words, a photo, or your voice)")
                gr.HTML('<div class="sa-section">Try saying</div>')
                with gr.Row(elem_classes="sa-pills"):
                    text_buttons = [(gr.Button(t, size="sm", variant="secondary"), t) for t in TEXT_EXAMPLES]
                voices = voice_examples()
                if voices:
                    gr.HTML('<div class="sa-section">Try a voice clip</div>')
                    with gr.Row(elem_classes="sa-pills"):
                        voice_buttons = [(gr.Button(f"🎤 {said}", size="sm", variant="secondary"), str(clip))
                                         for said, clip in voices]
                else:
                    voice_buttons = []
                gr.HTML('<div class="sa-section">Try a photo</div>')
                photos = gr.HTML(photo_strip(loader.examples), elem_id="sa-photos", js_on_load=CLICK_JS,
                                 css_template=GRID_CSS)
                reset = gr.Button("↺ Start over", size="sm", variant="secondary")
            with gr.Column(scale=8, min_width=420):
                chips = gr.CheckboxGroup(choices=[], value=[], elem_id="sa-chips", label="Your filters (untick to remove)",
                                         interactive=True, visible=False)
                with gr.Accordion("Change filters", open=False, elem_id="sa-filters"):
                    with gr.Row():
                        min_price = gr.Number(label="Min price (₹)", minimum=0, precision=0, value=None)
                        max_price = gr.Number(label="Max price (₹)", minimum=0, precision=0, value=None)
                    with gr.Row():
                        ch = loader.choices
                        gender = gr.Dropdown(ch.get("gender", []), value=[], multiselect=True, label="For")
                        kind = gr.Dropdown(ch.get("article_type", []), value=[], multiselect=True, label="Category")
                        colour = gr.Dropdown(ch.get("base_colour", []), value=[], multiselect=True, label="Colour")
                    apply = gr.Button("Apply filters", variant="primary", size="sm")
                grid = gr.HTML(EMPTY_GRID, elem_id="sa-results", js_on_load=CLICK_JS, css_template=GRID_CSS)

        outs = [chat, session, grid, chips, min_price, max_price, gender, kind, colour]
        box.submit(on_submit, [box, chat, session], [*outs, box], api_visibility="private")
        for button, text in text_buttons:
            button.click(example_text(text), [chat, session], outs, api_visibility="private")
        for button, clip in voice_buttons:
            button.click(example_voice(clip), [chat, session], outs, api_visibility="private")
        photos.click(on_photo_example, [chat, session], outs, api_visibility="private")
        chat.option_select(on_did_you_mean, [chat, session], outs, api_visibility="private")
        grid.click(on_card, [chat, session], outs, api_visibility="private")
        chips.input(on_chips, [chips, chat, session], outs, api_visibility="private")
        apply.click(on_apply, [min_price, max_price, gender, kind, colour, chat, session], outs, api_visibility="private")
        reset.click(on_reset, None, [*outs, box], api_visibility="private")
        chat.clear(on_reset, None, [*outs, box], api_visibility="private")
        timer = gr.Timer(1.0, active=True)
        timer.tick(on_tick, None, [status, timer, photos, gender, kind, colour], api_visibility="private")
        for fn, name in ((search_text, "search_text"), (search_image, "search_image"), (search_voice, "search_voice")):
            group, limit = api_concurrency()[name]
            gr.api(fn, api_name=name, concurrency_id=group, concurrency_limit=limit)
    return demo


def api_concurrency() -> dict[str, tuple[str, int]]:
    """(queue, searches at once) per API endpoint. Searches are CPU-bound, so on 2 cores two at a time is
    the most that helps: one in words (its own queue: a request in words never waits behind a photo or a
    voice clip) and one photo or voice search (they share a queue). Measured with `make load` (README,
    "Load and scale"): more at once only adds contention and memory. ASSISTANT_TEXT_CONCURRENCY and
    ASSISTANT_MEDIA_CONCURRENCY change the two limits (more cores: more at once)."""
    settings = Settings.from_env()
    text, media = settings.text_concurrency, settings.media_concurrency
    return {"search_text": ("api-text", text), "search_image": ("api-media", media), "search_voice": ("api-media", media)}


def _file_path(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("path") or "")
    return str(getattr(value, "path", value) or "")


def launch_options() -> dict[str, Any]:
    """Server name/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860; on a Hugging
    Face Space, which sets SPACE_ID, every interface: its proxy must reach the app), plus the look."""
    host = "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    return {"server_name": os.environ.get("GRADIO_SERVER_NAME") or host,
            "server_port": int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
            "theme": gr.themes.Soft(primary_hue="rose", neutral_hue="stone"), "css": CSS, "show_error": True,
            "footer_links": ["api"], "run_history": False}  # privacy: no record of shoppers' requests
