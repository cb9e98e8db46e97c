"""`make bench-scale` and `make load` stay runnable: bench/scale.py at 1,500 products (embedded Chroma, through
ProductIndex) and bench/load.py for a few seconds with 3 shoppers (words, photos, voice) against `python
app.py` on the test slice. Both must print their report; the load must have no failed request."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings

try:
    from conftest import DEV, ROOT, assistant_env
    from test_browser import RunningApp
except ImportError:  # tests imported as a package
    from tests.conftest import DEV, ROOT, assistant_env
    from tests.test_browser import RunningApp


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=assistant_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_bench_scale_small(slice_catalog: Path, tmp_path: Path) -> None:
    saved = tmp_path / "rows.json"
    out = run("bench.scale", "--sizes", "1500", "--backends", "embedded", "--queries", "8",
              "--catalog", str(slice_catalog), "--work", str(tmp_path / "indexes"), "--json", str(saved))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ingest and cold start" in out.stdout and "warm query latency" in out.stdout, out.stdout
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith("embedded ")]
    assert len(rows) == 2 and all(r[1] == "1,500" for r in rows), out.stdout
    assert float(rows[0][2].replace(",", "")) > 0  # ingest rate
    assert all(p in out.stdout for p in ("exact:", "pool:")), out.stdout  # the paths filtered queries took
    again = run("bench.scale", "--report", str(saved))  # saved runs print the same tables
    assert again.returncode == 0 and again.stdout.strip() in out.stdout, again.stdout + again.stderr[-2000:]


@pytest.fixture(scope="module")
def app(engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with RunningApp(settings, tmp_path_factory.mktemp("load-app")) as running:
        yield running


def test_load_small(app: RunningApp) -> None:
    out = run("bench.load", "--url", app.url, "--pid", str(app.proc.pid), "--shoppers", "3", "--duration", "6",
              "--warmup", "2", "--think", "0.3", "--mix", "text=2,photo=1,voice=1", "--queries", str(DEV),
              "--text-p95-ms", "60000", "--timeout", "300")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = out.stdout
    assert "failed requests: 0" in report and "PASS" in report, report
    for kind in ("text", "photo", "voice", "all"):
        assert any(line.startswith(f"{kind} ") for line in report.splitlines()), report
    assert "app memory (RSS MB" in report and "growth after warm-up" in report, report
