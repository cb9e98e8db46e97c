"""The engine, built in a background thread while the page says it is getting ready; then the examples (catalog
photos of different kinds of product, generated voice clips) and a warmed-up speech model."""

from __future__ import annotations

import html
import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..encoders.base import ModelFileError
from ..errors import InputError
from ..index import IndexUnavailable

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
VOICE_DIR = ASSETS / "voice"
TEXT_EXAMPLES = ("black heels under 1500 rupees", "blue jeans for men", "red dress for a party",
                 "我想买1000元以下的女士手提包", "男士黑色运动鞋")
PHOTO_EXAMPLES = 8


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
            if self.examples:
                engine.details(self.examples[0][0])  # reads the catalog's descriptions for the product pages
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
