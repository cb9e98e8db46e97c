"""The shopper-facing Gradio app, by concern: `page` (layout, looks, event wiring), `cards` (products as HTML:
grid, product page, comparison), `photos` and `routes` (product photos and pages over plain HTTP), `uploads`
(shoppers' files, read and deleted), `loader` (the engine built in the background, examples), `api` (the
named endpoints). The conversation itself is `assistant.chat`; nothing here decides what a message means."""

from ..chat import Reply
from .api import Api, api_concurrency, api_payload
from .cards import EMPTY_GRID, card_html, chip_choices, compare_html, photo_strip, product_page_html, render_cards, user_message
from .loader import EngineLoader, pick_examples, silent_wav, voice_examples
from .page import Assistant, answer, build_demo, launch_options
from .uploads import discard_upload, is_audio, read_and_discard, read_uploads

__all__ = ["EMPTY_GRID", "Api", "Assistant", "EngineLoader", "Reply", "answer", "api_concurrency", "api_payload",
           "build_demo", "card_html", "chip_choices", "compare_html", "discard_upload", "is_audio", "launch_options",
           "photo_strip", "pick_examples", "product_page_html", "read_and_discard", "read_uploads", "render_cards",
           "silent_wav", "user_message", "voice_examples"]
