"""The shopper-facing web app: `python app.py` serves it on http://127.0.0.1:7860.

Importing this module is quick and never blocks: the engine (model, encoders, index) is built in a
background thread by `assistant.bootstrap.ensure_ready` — on the first run that trains the space and
indexes the catalog (the shipped demo catalog instead loads its prebuilt bundle), with progress in the
terminal — while the page says it is getting ready.
On Hugging Face Spaces, model caches and the data folder go to the persistent /data volume when there
is one, and on ZeroGPU hardware one `@spaces.GPU` function is registered (`gpu_check`, below).

Environment: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (where to listen), GRADIO_DEFAULT_CONCURRENCY_LIMIT
(chat turns run at once per kind of UI event, default 4; the API's own limits are ASSISTANT_TEXT_CONCURRENCY
and ASSISTANT_MEDIA_CONCURRENCY, see `assistant.ui.api_concurrency`), MALLOC_ARENA_MAX (default 4 here),
CATALOG_DIR, DATA_DIR and the other ASSISTANT_* settings.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path


def limit_malloc_arenas(arenas: int = 4) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would, unless that is set). glibc gives busy threads
    arenas of their own, up to 8 per core, each keeping its high-water mark: under 20 shoppers the app's
    memory crept up for minutes (`make load`, 5 min: +124 MB, +57 MB of it in the last half). Measured
    the same way: 4 arenas, flat (+14 MB, then +3 MB) at the same CPU per request (196 ms vs 198 ms);
    2 arenas, flat and ~150 MB smaller but ~10 % more CPU per request (lock contention)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return ctypes.CDLL("libc.so.6").mallopt(-8, arenas) == 1  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return False


def use_persistent_storage(root: str = "/data") -> bool:
    """Point model caches (and DATA_DIR, unless set) at `root` when it exists and is writable."""
    base = Path(root)
    if not (base.is_dir() and os.access(base, os.W_OK)):
        return False
    os.environ.setdefault("HF_HOME", str(base / ".huggingface"))
    os.environ.setdefault("TORCH_HOME", str(base / ".torch"))
    os.environ.setdefault("XDG_CACHE_HOME", str(base / ".cache"))
    os.environ.setdefault("SENTENCE_TRANSFORMERS_HOME", str(base / ".cache" / "sentence-transformers"))
    if not os.environ.get("DATA_DIR"):
        os.environ["DATA_DIR"] = str(base / "assistant")
    return True


limit_malloc_arenas()  # before gradio, torch and the engine start their threads
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_RUN_HISTORY", "False")  # shoppers' requests are not recorded anywhere
use_persistent_storage()
if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

try:  # Hugging Face's `spaces` package: preinstalled on Spaces, absent elsewhere (then nothing to do)
    import spaces  # before torch, as ZeroGPU asks
except ImportError:
    spaces = None

import gradio as gr  # noqa: E402

from assistant.ui import EngineLoader, build_demo, launch_options  # noqa: E402


def gpu_check() -> dict[str, bool]:
    """Whether a CUDA device is lent to this call. The app computes on the CPU (its models are small: a
    search takes tens of milliseconds there, less than borrowing a GPU would), but ZeroGPU hardware (the
    free Spaces tier) stops an app at start-up unless it registers at least one `@spaces.GPU` function;
    this is that function, an API endpoint that nothing in the app calls."""
    import torch

    return {"cuda": torch.cuda.is_available()}


def _build_engine():
    from assistant.bootstrap import ensure_ready
    from assistant.config import Settings

    return ensure_ready(Settings.from_env())


loader = EngineLoader(_build_engine).start()
demo = build_demo(loader)
with demo:
    gr.api(spaces.GPU(duration=10)(gpu_check) if spaces else gpu_check, api_name="gpu_check")
demo.queue(default_concurrency_limit=int(os.environ.get("GRADIO_DEFAULT_CONCURRENCY_LIMIT") or 4))

if __name__ == "__main__":
    demo.launch(**launch_options(loader))
