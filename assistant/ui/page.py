"""The shopper-facing page: one chat box (words, photo, voice), the result grid with sort, chips and filters,
the product page, the shortlist and comparison (kept in the shopper's browser), and the wiring of gradio
events to the conversation (`assistant.chat`, through `Assistant` here). Phone first: on a narrow screen the
view moves to the results after each answer, two cards a row, touch targets of at least 40 px."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import chat
from ..chat import Reply
from ..encoders.base import ModelFileError
from ..errors import InputError
from ..index import IndexUnavailable
from ..session import Session
from .api import Api, not_ready_text
from .cards import BAG, EMPTY_GRID, chip_choices, fitting_html, photo_strip, render_cards, sort_choices, user_message
from .loader import TEXT_EXAMPLES, EngineLoader, voice_examples
from .photos import photo_url
from .routes import card_fields, shop_routes
from .uploads import ATTACHABLE, read_and_discard, read_uploads

if TYPE_CHECKING:
    from ..engine import Engine
    from ..tryon.render import Shopper

log = logging.getLogger(__name__)


class Assistant(chat.Assistant):
    """The conversation (`assistant.chat`), with the shopper's turns shown as chat messages (a catalog photo
    by its URL)."""

    def show_user(self, text: str = "", photo: bytes | None = None, photo_path: str = "",
                  voice: str | None = None) -> str:
        src = ""
        if photo_path:
            pid = next((i for i, m in self.engine.index.metadata().items() if m.get("image") == photo_path), "")
            src = photo_url(pid, photo_path, "thumb") if pid else ""
        return user_message(text, photo, src, voice)


def answer(loader: EngineLoader, session: Session, turn: Callable[[Assistant], Reply]) -> Reply:
    """Run one turn; whatever goes wrong becomes a message in the chat, never a crash."""
    engine: Engine | None = loader.engine if loader.ready else None
    if engine is None:
        return Reply(session, not_ready_text(loader), ok=False)
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


ASK_PHOTO = "Add a photo of yourself, standing, from the front (upload one or take one with your camera)."


def fit(loader: EngineLoader, shopper: Shopper | None, pid: str) -> str:
    """The fitting room's view for a product: the shopper wearing it, or what to do (add a photo), or why not."""
    engine = loader.engine if loader.ready else None
    if engine is None:
        return fitting_html(note=not_ready_text(loader))
    details = engine.details(pid) if pid else None
    if details is None:
        return fitting_html(note="Pick a top and tap “Try it on”.")
    product = card_fields(details)
    if shopper is None:
        return fitting_html(product=product, note=ASK_PHOTO)
    from ..tryon.render import data_uri, render

    try:
        image, report = render(shopper, details, engine.settings)
    except Exception:
        log.exception("a try-on failed")  # the shopper's photo is never logged
        return fitting_html(product=product, note="Something went wrong on our side. Please try again.")
    if image is None:
        return fitting_html(product=product, note=report.message)
    return fitting_html(data_uri(image), product, report.message)


# ---------------------------------------------------------------------------------------------------
# the look
# ---------------------------------------------------------------------------------------------------
STATIC = Path(__file__).resolve().parent / "static"
CSS = (STATIC / "shop.css").read_text(encoding="utf-8")
OVERLAY_CSS = (STATIC / "overlay.css").read_text(encoding="utf-8")  # in the page head: gradio would drop its @media

CLICK_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-action]');
  if (!b || !element.contains(b)) return;
  ev.preventDefault();
  trigger('click', {action: b.dataset.action, product: b.dataset.id});
});
"""

SHOP_JS = (STATIC / "shop.js").read_text(encoding="utf-8")  # the grid, product page, shortlist, compare


# ---------------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------------
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
        return (history, s, render_cards(reply.cards, reply.heading, s.likes, s.dislikes, s.link_query()),
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
        out = outputs_for(reply, history)
        yield out
        # gradio sends a generator's last values again when it completes: ending on the chat alone (the grid
        # unchanged) sends the grid's markup once instead of twice
        yield (out[0], out[1], *(gr.skip(),) * 7)

    def on_submit(box: dict | None, history: list[dict], session: Session) -> Iterator[tuple]:
        """The chat box: words, photos, recordings. Uploaded files are read and deleted at once. Nothing sent (the
        box refused a file, say): the assistant asks what they are looking for, with no empty bubble of theirs."""
        box = box or {}
        text = str(box.get("text") or "").strip()
        try:
            photo, audio = read_uploads(box.get("files") or [])
        except InputError as e:
            yield (*outputs_for(Reply(session, f"⚠️ {e}", ok=False), list(history or [])), gr.update(interactive=True))
            return
        if not text and photo is None and audio is None:
            reply = replace(answer(loader, session, lambda a: a.message(session)), user="")
            yield (*outputs_for(reply, list(history or [])), gr.update(value=None, interactive=True))
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

    def on_load(history: list[dict], session: Session, request: gr.Request) -> Iterator[tuple]:
        """A `?q=…` link: its search, asked as if typed (once the assistant is ready)."""
        q = str(request.query_params.get("q") or "").strip() if request else ""
        if not q or history:
            yield (history, session, *(gr.skip(),) * 7)
            return
        loader.wait(600)
        yield from run_turn(history, session, user_message(q), lambda a: a.message(session, q))

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
        yield from run_turn(history, session, user_message(photo_src=photo_url(pid, path, "thumb")),
                            lambda a: a.message(session, photo_path=path))

    def on_card(history: list[dict], session: Session, evt: gr.EventData) -> Iterator[tuple]:
        """A card's or a product page's action: 👍 / 👎, similar look or style, or "open" (its page is shown)."""
        data = getattr(evt, "_data", {}) or {}
        action, pid = str(data.get("action") or ""), str(data.get("product") or "")
        if action not in ("like", "dislike", "similar", "style", "open") or not pid:
            yield (history, session, *(gr.skip(),) * 7)
            return
        yield from run_turn(history, session, "", lambda a: a.card_action(session, action, pid))

    def on_tryon(shopper: Any, evt: gr.EventData) -> tuple:
        """A top's "Try it on": the fitting room opens on it (the shopper's photo, once given, is reused). (`shopper`
        is a `Shopper` or None, typed Any: gradio reads this signature's hints to find `evt`.)"""
        data = getattr(evt, "_data", {}) or {}
        if str(data.get("action") or "") != "tryon" or not data.get("product"):
            return gr.skip(), gr.skip(), gr.skip()
        pid = str(data["product"])
        return gr.update(visible=True), fit(loader, shopper, pid), pid

    def on_person(path: str | None, pid: str, shopper: Shopper | None) -> tuple:
        """The shopper's photo: read into memory, its upload file deleted, analysed once for the session. A photo
        that cannot be used gets one sentence why and changes nothing."""
        if not path:
            return gr.skip(), gr.skip(), gr.skip()
        from ..tryon.render import analyse_shopper

        engine = loader.engine if loader.ready else None
        if engine is None:
            read_and_discard(path)
            return gr.skip(), fitting_html(note=not_ready_text(loader)), None
        try:
            shopper = analyse_shopper(read_and_discard(path), engine.settings)
        except InputError as e:
            return gr.skip(), fitting_html(note=str(e)), None
        return shopper, fit(loader, shopper, pid), None

    def on_sort(key: str, history: list[dict], session: Session) -> Iterator[tuple]:
        yield from run_turn(history, session, "", lambda a: a.set_sort(session, key or "relevance"))

    def on_chips(keys: list[str], history: list[dict], session: Session) -> Iterator[tuple]:
        yield from run_turn(history, session, "", lambda a: a.set_chips(session, keys or []))

    def on_apply(lo: float | None, hi: float | None, gender: list[str], kind: list[str], colour: list[str],
                 history: list[dict], session: Session) -> Iterator[tuple]:
        yield from run_turn(history, session, "",
                            lambda a: a.set_filters(session, lo, hi, gender or [], kind or [], colour or []))

    def on_reset() -> tuple:
        return ([], Session(), EMPTY_GRID, gr.update(choices=[], value=[], visible=False), None, None,
                gr.update(value=[]), gr.update(value=[]), gr.update(value=[]), gr.update(value=None), "relevance")

    def on_tick() -> tuple:
        if not loader.ready and not loader.error:
            return (loader.status_html(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        ch = loader.choices
        return (loader.status_html(), gr.Timer(active=False), photo_strip(loader.examples),
                gr.update(choices=ch.get("gender", [])), gr.update(choices=ch.get("article_type", [])),
                gr.update(choices=ch.get("base_colour", [])))

    # -- layout -----------------------------------------------------------------------------------
    with gr.Blocks(title=title, delete_cache=(600, 900)) as demo:
        session = gr.State(Session(), time_to_live=6 * 3600)
        # the fitting room: the shopper's analysed photo (memory only, dropped with the session) and the top shown
        shopper = gr.State(None, time_to_live=3600)
        fit_product = gr.State("")
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
                                           file_types=ATTACHABLE, file_count="multiple", autofocus=True,
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
                photos = gr.HTML(photo_strip(loader.examples), elem_id="sa-photos", js_on_load=CLICK_JS)
                reset = gr.Button("↺ Start over", size="sm", variant="secondary", elem_classes="sa-pills")
            with gr.Column(scale=8, min_width=300):
                chips = gr.CheckboxGroup(choices=[], value=[], elem_id="sa-chips", label="Your filters (untick to remove)",
                                         interactive=True, visible=False)
                with gr.Row():
                    sort = gr.Dropdown(sort_choices(), value="relevance", label="Sort by", elem_id="sa-sort",
                                       interactive=True, filterable=False, scale=1, min_width=160)
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
                with gr.Column(visible=False, elem_id="sa-fitting") as fitting, gr.Row(equal_height=False):
                    fit_view = gr.HTML(fitting_html(note=ASK_PHOTO), elem_id="sa-fit-view")
                    with gr.Column(min_width=220):
                        fit_photo = gr.Image(label="Your photo (standing, from the front)", type="filepath",
                                             sources=["upload", "webcam"], elem_id="sa-fit-photo", height=240)
                        fit_close = gr.Button("Close the fitting room", size="sm", variant="secondary")
                grid = gr.HTML(EMPTY_GRID, elem_id="sa-results", js_on_load=SHOP_JS)

        outs = [chat, session, grid, chips, min_price, max_price, gender, kind, colour]
        box.submit(on_submit, [box, chat, session], [*outs, box], api_visibility="private")
        for button, text in text_buttons:
            button.click(example_text(text), [chat, session], outs, api_visibility="private")
        for button, clip in voice_buttons:
            button.click(example_voice(clip), [chat, session], outs, api_visibility="private")
        photos.click(on_photo_example, [chat, session], outs, api_visibility="private")
        chat.option_select(on_did_you_mean, [chat, session], outs, api_visibility="private")
        grid.click(on_card, [chat, session], outs, api_visibility="private")
        grid.click(on_tryon, [shopper], [fitting, fit_view, fit_product], api_visibility="private")
        fit_photo.change(on_person, [fit_photo, fit_product, shopper], [shopper, fit_view, fit_photo],
                         api_visibility="private")
        fit_close.click(lambda: gr.update(visible=False), None, fitting, api_visibility="private")
        sort.select(on_sort, [sort, chat, session], outs, api_visibility="private")
        chips.input(on_chips, [chips, chat, session], outs, api_visibility="private")
        apply.click(on_apply, [min_price, max_price, gender, kind, colour, chat, session], outs, api_visibility="private")
        reset.click(on_reset, None, [*outs, box, sort], api_visibility="private")
        chat.clear(on_reset, None, [*outs, box, sort], api_visibility="private")
        demo.load(on_load, [chat, session], outs, api_visibility="private")
        timer = gr.Timer(1.0, active=True)
        timer.tick(on_tick, None, [status, timer, photos, gender, kind, colour], api_visibility="private")
        Api(loader).register()
    return demo


def launch_options(loader: EngineLoader) -> dict[str, Any]:
    """Server name/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860; on a Hugging
    Face Space, which sets SPACE_ID, every interface: its proxy must reach the app), the look, and the shop's
    own routes (photos, product pages, comparisons: served by this Python app, so no server-side rendering)."""
    host = "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    return {"server_name": os.environ.get("GRADIO_SERVER_NAME") or host,
            "server_port": int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
            "theme": gr.themes.Soft(primary_hue="rose", neutral_hue="stone"), "css": CSS,
            "head": f"<style>{OVERLAY_CSS}</style>", "show_error": True,
            "footer_links": ["api"], "run_history": False,  # privacy: no record of shoppers' requests
            "app_kwargs": {"routes": shop_routes(loader)}, "ssr_mode": False}
