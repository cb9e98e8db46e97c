"""The command-line contract, exactly as it is evaluated:

    python -m assistant train  --catalog DIR --model DIR
    python -m assistant ingest --catalog DIR [--catalog DIR ...] --model DIR --index DIR
    python -m assistant search --model DIR --index DIR --queries FILE.jsonl --out FILE.jsonl --top-k 50
    python -m assistant eval   --queries DIR

Most commands run in-process through `assistant.cli.main` (same parser, same code, models already loaded);
`search` also runs as a real `python -m assistant` subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FASHION, REAL_PHOTOS, ROOT, assistant_env, say, write_catalog

from assistant.cli import main
from assistant.config import Settings
from assistant.engine import Engine

pytestmark = pytest.mark.slow
REAL_TSHIRT = "061b697e-086b-48c9-80db-9ecb9b82c64b"  # a blue T-shirt on a wooden floor (real-photos dev split)


@pytest.fixture(scope="module")
def cli_env(settings: Settings, slice_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Environment as `make` sets it, pointed at the session's cache (features, joined Whisper) and tmp data."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_CACHE_DIR", str(settings.cache_path))
        mp.setenv("DATA_DIR", str(tmp_path_factory.mktemp("cli-data")))
        mp.setenv("CATALOG_DIR", str(slice_catalog))
        mp.setenv("ASSISTANT_REAL_PHOTOS_DIR", settings.real_photos_dir)
        mp.setenv("ASSISTANT_PHOTO_VIEWS", str(settings.photo_views))
        yield


@pytest.fixture(scope="module")
def cli_index(engine: Engine, settings: Settings, slice_rows: list[dict], cli_env: None,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's trained model, indexed by `ingest` from two catalogs into a fresh index."""
    d = tmp_path_factory.mktemp("cli")
    half = len(slice_rows) // 2
    a = write_catalog(d / "cat-a", slice_rows[:half])
    b = write_catalog(d / "cat-b", slice_rows[half:])
    index = d / "index"
    assert main(["ingest", "--catalog", str(a), "--catalog", str(b), "--model", str(settings.model_path),
                 "--index", str(index)]) == 0
    return index


def by_facets(rows: list[dict], **want: str) -> dict[str, int]:
    return {r["id"]: 2 for r in rows if all(r.get(k) == v for k, v in want.items())}


@pytest.fixture(scope="module")
def queries(slice_rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small query set in the dev-set format, media relative to the query file."""
    d = tmp_path_factory.mktemp("queries")
    media = d / "media"
    media.mkdir()
    photo_row = slice_rows[10]
    shutil.copyfile(FASHION / photo_row["image"], media / "photo.jpg")
    shutil.copyfile(REAL_PHOTOS / "images" / f"{REAL_TSHIRT}.jpg", media / "real.jpg")
    say("black heels, under 1500 rupees", media / "voice.wav")
    lines = [
        {"qid": "text-1", "kind": "text", "text": "men's blue shirts",
         "relevant": by_facets(slice_rows, gender="Men", base_colour="Blue", article_type="Shirts")},
        {"qid": "filter-1", "kind": "filter", "text": "casual shoes under 1500", "must": {"max_price": 1500},
         "relevant": by_facets(slice_rows, article_type="Casual Shoes")},
        {"qid": "photo-1", "kind": "photo", "image": "media/photo.jpg", "target": photo_row["id"],
         "relevant": {photo_row["id"]: 2}},
        {"qid": "real-1", "kind": "realphoto", "image": "media/real.jpg", "match": {"article_type": ["Tshirts", "Tops"]}},
        {"qid": "composed-1", "kind": "composed", "image": "media/photo.jpg", "text": "like this but black",
         "relevant": by_facets(slice_rows, article_type=photo_row["article_type"], base_colour="Black")},
        {"qid": "voice-1", "kind": "voice", "audio": "media/voice.wav", "spoken": "black heels under 1500 rupees",
         "relevant": by_facets(slice_rows, article_type="Heels", base_colour="Black")},
        {"qid": "photo-missing", "kind": "photo", "image": "media/nope.jpg", "target": photo_row["id"],
         "relevant": {photo_row["id"]: 2}},
    ]
    (d / "dev.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in lines))
    return d / "dev.jsonl"


def read_lines(path: Path) -> dict[str, dict]:
    return {(r := json.loads(line))["qid"]: r for line in path.read_text().splitlines() if line.strip()}


def test_train(cli_env: None, settings: Settings, slice_rows: list[dict], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSISTANT_TRAIN_EPOCHS", "2")
    for name, value in (("PHOTO_VIEWS", "24"), ("PHOTO_EPOCHS", "3"), ("PHOTO_QUERY_VIEWS", "1"),
                        ("PHOTO_QUERY_STRANGERS", "24")):  # a quick run
        monkeypatch.setenv(f"ASSISTANT_{name}", value)
    catalog = write_catalog(tmp_path / "cat", slice_rows[:40])
    model = tmp_path / "model"
    assert main(["train", "--catalog", str(catalog), "--model", str(model)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["model"] == str(model) and "final_loss" in out
    card = json.loads((model / "card.json").read_text())
    assert card["products"] == 40 and (model / "space.safetensors").stat().st_size > 0


def test_ingest_two_catalogs(cli_index: Path, settings: Settings, slice_rows: list[dict], slice_catalog: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    half = len(slice_rows) // 2
    a, b = cli_index.parent / "cat-a", cli_index.parent / "cat-b"
    assert main(["ingest", "--catalog", str(a), "--catalog", str(b), "--model", str(settings.model_path),
                 "--index", str(cli_index)]) == 0
    n = len(slice_rows)
    assert f"{n} products: 0 added, 0 updated, {n} unchanged" in capsys.readouterr().out
    from assistant.index import ProductIndex

    assert ProductIndex(cli_index).count() == n and half < n


def test_search(cli_index: Path, queries: Path, settings: Settings, slice_rows: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    assert main(["search", "--model", str(settings.model_path), "--index", str(cli_index),
                 "--queries", str(queries), "--out", str(out), "--top-k", "50"]) == 0
    lines = read_lines(out)
    assert set(lines) == {"text-1", "filter-1", "photo-1", "real-1", "composed-1", "voice-1", "photo-missing"}
    for qid, line in lines.items():
        assert isinstance(line["latency_ms"], (int, float)) and line["latency_ms"] >= 0
        assert isinstance(line["results"], list) and len(line["results"]) <= 50
        if qid != "photo-missing":
            assert len(line["results"]) == 50 and "error" not in line, line
            assert len(set(line["results"])) == 50 and all(isinstance(i, str) for i in line["results"])
    assert lines["photo-1"]["results"][0] == slice_rows[10]["id"]
    assert "heel" in lines["voice-1"]["transcript"].lower()
    assert "transcript" not in lines["text-1"] and "photo" not in lines["text-1"]
    # what the assistant says each photo shows, and which products it says are the very one
    for qid in ("photo-1", "real-1", "composed-1"):
        said = lines[qid]["photo"]
        assert set(said) == {"article_type", "base_colour", "gender"}, said
        assert all(v is None or isinstance(v, str) for v in said.values())
        assert isinstance(lines[qid]["same_product"], list)
    assert lines["photo-1"]["photo"]["article_type"] == slice_rows[10]["article_type"]
    assert lines["photo-1"]["same_product"] == [slice_rows[10]["id"]]  # the catalog's own photo: claimed
    assert lines["real-1"]["same_product"] == []  # someone's own T-shirt is not a catalog product
    assert lines["photo-missing"]["results"] == [] and "not found" in lines["photo-missing"]["error"]
    rows = {r["id"]: r for r in slice_rows}
    top = [rows[i] for i in lines["text-1"]["results"][:5]]
    assert all(r["article_type"] == "Shirts" for r in top)
    assert all((r.get("sale_price") or r.get("price") or 1e9) <= 1500 for r in
               (rows[i] for i in lines["filter-1"]["results"][:10]))


def test_search_as_a_real_process(cli_index: Path, queries: Path, settings: Settings, slice_rows: list[dict],
                                  tmp_path: Path) -> None:
    """`python -m assistant search` end to end (text and photo lines; no models loaded in this process)."""
    q = tmp_path / "q" / "set.jsonl"
    q.parent.mkdir()
    shutil.copytree(queries.parent / "media", q.parent / "media")
    keep = [json.loads(x) for x in queries.read_text().splitlines() if '"audio"' not in x]
    q.write_text("".join(json.dumps(x) + "\n" for x in keep))
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-m", "assistant", "search", "--model", str(settings.model_path),
                           "--index", str(cli_index), "--queries", str(q), "--out", str(out), "--top-k", "50"],
                          cwd=tmp_path, env=assistant_env(ASSISTANT_CACHE_DIR=str(settings.cache_path)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = read_lines(out)
    assert set(lines) == {x["qid"] for x in keep}
    assert lines["photo-1"]["results"][0] == slice_rows[10]["id"]
    assert all(len(v["results"]) == 50 for k, v in lines.items() if k != "photo-missing")
    assert "queries answered, 1 with an error" in proc.stderr


def test_eval_prints_the_metric_table(cli_index: Path, queries: Path, settings: Settings, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    summary = tmp_path / "summary.json"
    assert main(["eval", "--queries", str(queries.parent), "--model", str(settings.model_path), "--index",
                 str(cli_index), "--json", str(summary)]) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("kind"))
    assert header.split() == ["kind", "n", "ndcg@10", "p@10", "match@1", "r@1", "r@10", "mrr", "similar@10", "compliance",
                              "wer", "lat_p50", "lat_p95", "missing"]
    rows = {line.split()[0]: line.split() for line in printed.splitlines()[printed.splitlines().index(header) + 1:]}
    assert {"text", "filter", "photo", "composed", "voice", "realphoto"} <= set(rows)
    assert "'the same product' claims" in printed and "claim_right" in printed
    data = json.loads(summary.read_text())
    assert data["photo"]["n"] == 2 and data["photo"]["r@1"] == 0.5  # one found first, one photo missing
    assert data["filter"]["compliance"] == 1.0
    assert data["voice"]["wer"] <= 0.25
    assert data["text"]["p@10"] >= 0.5


def test_errors_are_one_clear_line(cli_env: None, tmp_path: Path, queries: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["search", "--model", str(tmp_path / "no-model"), "--index", str(tmp_path / "idx"),
                 "--queries", str(queries), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "error: model file missing" in err and "Traceback" not in err
    assert main(["train", "--catalog", str(tmp_path / "no-catalog"), "--model", str(tmp_path / "m")]) == 2
    assert "error: no catalog at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--model", "m"])  # --queries is required
    assert exit_.value.code == 2


def test_help_names_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "assistant", "--help"], cwd=ROOT, env=assistant_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for command in ("train", "ingest", "search", "eval"):
        assert command in proc.stdout


def test_chat_plays_dialogues_and_prints_the_scorers_table(cli_index: Path, settings: Settings, slice_rows: list[dict],
                                                           slice_catalog: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`chat` plays each dialogue in a fresh session (media relative to the file) and writes one line per dialogue
    with, per turn, the results (best first, up to --top-k), the reply and the latency; with --catalog it prints
    the dialogue scorer's table."""
    row = next(r for r in slice_rows if r["gender"] == "Men")
    (tmp_path / "media").mkdir()
    shutil.copyfile(FASHION / row["image"], tmp_path / "media" / "photo.jpg")
    say("something cheaper", tmp_path / "media" / "cheaper.wav")
    kind = row["article_type"]
    men = {"gender": ["Men", "Unisex"], "article_type": [kind]}
    dialogues = [
        {"did": "d1", "lang": "en", "turns": [{"text": f"{kind} for men"}, {"text": "show me more"}],
         "expect": [{"must": men, "intents": ["start"]}, {"must": {**men, "not_ids_from_turn": 0}, "intents": ["more"]}]},
        {"did": "d2", "lang": "en", "turns": [{"image": "media/photo.jpg"}, {"audio": "media/cheaper.wav"}],
         "expect": [{"must": {"article_type": [kind]}, "intents": ["photo"]},
                    {"must": {"article_type": [kind], "cheaper_than_turn": 0}, "intents": ["price", "voice"]}]},
    ]
    path = tmp_path / "dialogues.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    out = tmp_path / "results.jsonl"
    capsys.readouterr()
    assert main(["chat", "--model", str(settings.model_path), "--index", str(cli_index), "--dialogues", str(path),
                 "--out", str(out), "--top-k", "20", "--catalog", str(slice_catalog)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["did"] for line in lines] == ["d1", "d2"]
    for line in lines:
        assert len(line["turns"]) == 2
        for turn in line["turns"]:
            assert 0 < len(turn["results"]) <= 20 and turn["reply"] and turn["latency_ms"] > 0 and "error" not in turn
    printed = capsys.readouterr().out
    assert printed.startswith("dialogues 2  turns 4  missing dialogues 0") and "intent" in printed and "voice" in printed
