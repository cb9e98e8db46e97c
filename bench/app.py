"""Start `python app.py` for a benchmark: a subprocess on a free loopback port (DATA_DIR / CATALOG_DIR and
the other settings from the environment, as `make run` would), its log in a temporary file, ready once
/search_text answers with products. Shared by `bench.api` (round-trip latency) and `bench.load`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
READY_QUERY = "shirts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float = 20) -> None:
    """Terminate a child process; kill it when it has not exited after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_ready(url: str, timeout: float, alive: Callable[[], None] = lambda: None) -> Client:
    """A connected client once the app at `url` answers /search_text with products (it says "getting
    ready" while its engine builds). `alive` raises when the app is known to have died."""
    from gradio_client import Client

    end, client, last = time.monotonic() + timeout, None, ""
    while time.monotonic() < end:
        alive()
        try:
            client = client or Client(url, verbose=False)
            out = client.predict(query=READY_QUERY, top_k=1, api_name="/search_text")
            if out.get("products"):
                return client
            last = f"no products in {out}"
        except Exception as e:  # not listening yet, or "getting ready"
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.5)
    raise TimeoutError(f"the app at {url} was not ready after {timeout:.0f}s ({last})")


class App:
    """`python app.py` in a subprocess on its own port; its log goes to a temporary file.
    `env` adds to (or overrides) the inherited environment, e.g. GRADIO_DEFAULT_CONCURRENCY_LIMIT."""

    def __init__(self, port: int | None = None, env: dict[str, str] | None = None, name: str = "bench",
                 root: Path = ROOT, python: str = sys.executable, drop: tuple[str, ...] = ()) -> None:
        """`root`: the checkout whose app.py runs (its working directory); `python`: the interpreter;
        `drop`: variables removed from the inherited environment (CATALOG_DIR, say)."""
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        full = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1"}
        full.setdefault("HF_HUB_OFFLINE", "1")
        full.update(env or {})
        for var in drop:
            full.pop(var, None)
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"{name}-app-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen([python, "app.py"], cwd=root, env=full, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-n:]

    def wait_ready(self, timeout: float) -> Client:
        """A connected client once /search_text answers with products (the engine builds in the background)."""
        def alive() -> None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited (code {self.proc.returncode}):\n{self.tail()}")
        try:
            return wait_ready(self.url, timeout, alive)
        except TimeoutError as e:
            raise TimeoutError(f"{e}:\n{self.tail()}") from None

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
