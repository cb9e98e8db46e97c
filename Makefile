# Shopping assistant — `make run` serves the app, `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED := $(abspath ../shared)
CATALOG_DIR ?= $(if $(wildcard $(SHARED)/datasets/fashion/products.jsonl),$(SHARED)/datasets/fashion,catalog)
DEV_QUERIES ?= $(SHARED)/eval/fashion-dev
DEV_DIALOGUES ?= $(SHARED)/eval/fashion-dev-dialogues/dialogues.jsonl
HELDOUT_DIALOGUES ?= eval/dialogues-heldout/dialogues.jsonl
DATA_DIR ?= data
export CATALOG_DIR DATA_DIR
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test deps system lint train ingest eval eval-dialogues intents eval-fusion eval-product-fusion bench load bench-scale voices clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

deps: $(BIN)/.installed

# Debian packages the tests use: Chromium (browser tests), espeak-ng + ffmpeg (voice clips).
system:
	@command -v chromium >/dev/null && command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng ffmpeg >/dev/null; }

run: deps
	$(BIN)/python app.py

test: deps system
	$(BIN)/python -m pytest -q

lint: deps
	$(BIN)/ruff check .

train: deps
	$(BIN)/python -m assistant train --catalog $(CATALOG_DIR)

ingest: deps
	$(BIN)/python -m assistant ingest --catalog $(CATALOG_DIR)

eval: deps
	$(BIN)/python -m assistant eval --queries $(DEV_QUERIES) --catalog $(CATALOG_DIR)
	$(MAKE) --no-print-directory eval-dialogues

# Multi-turn dialogues played through the app's conversation, scored as ../shared/tools/score_dialogues.py:
# the dev dialogues, then our held-out ones (other wordings; never tuned on).
eval-dialogues: deps
	$(BIN)/python -m assistant chat --dialogues $(DEV_DIALOGUES) --out $(DATA_DIR)/dialogues-dev.jsonl --catalog $(CATALOG_DIR)
	$(BIN)/python -m assistant chat --dialogues $(HELDOUT_DIALOGUES) --out $(DATA_DIR)/dialogues-heldout.jsonl \
	  --catalog $(CATALOG_DIR)

# The follow-up intent model (assets/models/intents): seeded, from generated paraphrases; measured on
# eval/intents-heldout.jsonl.
intents: deps
	$(BIN)/python -m assistant intents train --catalog $(CATALOG_DIR)
	$(BIN)/python -m assistant intents eval --catalog $(CATALOG_DIR)

# Every fusion strategy x every query kind the fusion issue names (voice is the same for all).
eval-fusion: deps
	$(BIN)/python -m assistant eval --fusion all --plot assets/fusion.png --catalog $(CATALOG_DIR) \
	  --queries $(foreach k,text zh natural photo composed filter,$(DEV_QUERIES)/$(k).jsonl)

# Product-side fusion: one summed vector per product vs separate photo/word vectors scored at query time.
eval-product-fusion: deps
	$(BIN)/python -m bench.product_fusion --queries $(DEV_QUERIES)

bench: deps
	$(BIN)/python -m bench.core
	$(BIN)/python -m bench.api

# 20 shoppers (words, photos, voice) against python app.py for 2 minutes: failures, p50/p95, throughput, memory.
# e.g. make load LOAD_ARGS="--duration 60 --text-concurrency 2"
load: deps
	$(BIN)/python -m bench.load --queries $(DEV_QUERIES) $(LOAD_ARGS)

# Ingest, cold start and query latency (with and without filters) at 10k/100k/1M synthetic products,
# embedded Chroma and a Chroma server. e.g. make bench-scale SCALE_ARGS="--sizes 10000,100000 --work /tmp/scale"
bench-scale: deps
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

voices: deps system
	$(BIN)/python scripts/make_voice_examples.py

clean:
	rm -rf $(DATA_DIR) tests/artifacts
