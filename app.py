"""The shopper-facing web app: `python app.py` serves it on http://127.0.0.1:7860.

Importing this module is quick and never blocks: the engine (model, encoders, index) is built in a
background thread by `assistant.bootstrap.ensure_ready` — on the first run that trains the space and
indexes the catalog, with progress in the terminal — while the page says it is getting ready.
On Hugging Face Spaces, model caches and the data folder go to the persistent /data volume.

Environment: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (where to listen), GRADIO_DEFAULT_CONCURRENCY_LIMIT
(searches run at once, default 4), CATALOG_DIR, DATA_DIR and the other ASSISTANT_* settings.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path


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


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_RUN_HISTORY", "False")  # shoppers' requests are not recorded anywhere
use_persistent_storage()
if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

from assistant.ui import EngineLoader, build_demo, launch_options  # noqa: E402


def _build_engine():
    from assistant.bootstrap import ensure_ready
    from assistant.config import Settings

    return ensure_ready(Settings.from_env())


loader = EngineLoader(_build_engine).start()
demo = build_demo(loader)
demo.queue(default_concurrency_limit=int(os.environ.get("GRADIO_DEFAULT_CONCURRENCY_LIMIT") or 4))

if __name__ == "__main__":
    demo.launch(**launch_options())
