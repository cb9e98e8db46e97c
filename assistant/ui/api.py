"""The named API endpoints (gradio_client): /search_text, /search_image, /search_voice, each returning the same
JSON shape; bad input comes back as a readable error. Uploaded files are read and deleted at once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.data_classes import FileData

from ..config import Settings
from ..encoders.base import ModelFileError
from ..errors import InputError
from ..index import Filters, IndexUnavailable
from ..session import PAGE_SIZE, summarize
from .loader import EngineLoader
from .uploads import read_and_discard

if TYPE_CHECKING:
    from ..engine import Engine, SearchResult

log = logging.getLogger(__name__)


def api_payload(result: SearchResult, transcript: str = "", language: str = "") -> dict[str, Any]:
    u = result.understanding
    return {"products": [summarize(h.id, h.product, h.score, h.reasons) for h in result.hits],
            "understood": u.chips() if u else [], "photo": result.photo_description(),
            "transcript": transcript, "language": language or (u.language if u else ""), "notes": list(result.notes)}


def api_concurrency() -> dict[str, tuple[str, int]]:
    """(queue, searches at once) per API endpoint. Searches are CPU-bound, so on 2 cores two at a time is
    the most that helps: one in words (its own queue: a request in words never waits behind a photo or a
    voice clip) and one photo or voice search (they share a queue). Measured with `make load` (README,
    "Load and scale"): more at once only adds contention and memory. ASSISTANT_TEXT_CONCURRENCY and
    ASSISTANT_MEDIA_CONCURRENCY change the two limits (more cores: more at once)."""
    settings = Settings.from_env()
    text, media = settings.text_concurrency, settings.media_concurrency
    return {"search_text": ("api-text", text), "search_image": ("api-media", media), "search_voice": ("api-media", media)}


def not_ready_text(loader: EngineLoader) -> str:
    if loader.error:
        return f"Sorry — the assistant can't start: {loader.error}"
    return "I'm still getting ready (loading the models and the catalog). Please try again in a moment."


def _file_path(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("path") or "")
    return str(getattr(value, "path", value) or "")


class Api:
    """The three search endpoints over the loader's engine."""

    def __init__(self, loader: EngineLoader) -> None:
        self.loader = loader

    def _engine(self) -> Engine:
        if not self.loader.ready or self.loader.engine is None:
            raise gr.Error(not_ready_text(self.loader), print_exception=False)  # the loader has logged why
        return self.loader.engine

    def _search(self, **kwargs: Any) -> SearchResult:
        try:
            return self._engine().search(**kwargs)
        except IndexUnavailable as e:  # one line for the operator, not a traceback per request
            log.warning("%s", e)
            raise gr.Error(str(e), print_exception=False) from None
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    @staticmethod
    def _upload(value: Any) -> bytes:
        """An uploaded file's bytes, its file deleted at once (an unreadable upload is the shopper's error)."""
        try:
            return read_and_discard(_file_path(value))
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def search_text(self, query: str, min_price: float | None = None, max_price: float | None = None,
                    top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products for a request in words (English or Chinese). Returns {"products": [...], "understood": [...], ...}."""
        result = self._search(text=query, filters=Filters(min_price=min_price, max_price=max_price),
                              top_k=max(1, min(int(top_k), 100)))
        return api_payload(result)

    def search_image(self, image: FileData, query: str = "", top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products that look like a photo (optionally changed by words: "but in red")."""
        data = self._upload(image)
        result = self._search(text=query or None, image=data, top_k=max(1, min(int(top_k), 100)))
        return api_payload(result)

    def search_voice(self, audio: FileData, top_k: int = PAGE_SIZE) -> dict[str, Any]:
        """Products for a spoken request (wav, mp3, webm …); the transcript is returned too."""
        data = self._upload(audio)
        engine = self._engine()
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
        result = self._search(text=tr.text, top_k=max(1, min(int(top_k), 100)))
        payload = api_payload(result, transcript=tr.text, language=tr.language)
        payload["notes"] += [tr.note] if tr.note else []  # e.g. only the first 30 seconds were used
        payload.update(confidence=tr.confidence, alternatives=list(tr.alternatives))  # other readings when unsure
        return payload

    def register(self) -> None:
        """The endpoints, each in its queue (inside a gr.Blocks context)."""
        for fn in (self.search_text, self.search_image, self.search_voice):
            group, limit = api_concurrency()[fn.__name__]
            gr.api(fn, api_name=fn.__name__, concurrency_id=group, concurrency_limit=limit)
