# framefleet — `make demo` renders the examples, `make test` runs the suite. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian packages (installed only when missing): what renders need, and the real servers the tests start.
# Noto fonts are the fallback chain for text in every script: colour emoji, CJK, and (core) Arabic,
# Hebrew, Devanagari, Thai and the other scripts Noto covers.
SYSTEM_PACKAGES := ffmpeg fontconfig fonts-dejavu-core fonts-liberation2 fonts-noto-core fonts-noto-cjk \
    fonts-noto-color-emoji espeak-ng
TEST_PACKAGES := redis-server prometheus rabbitmq-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLES := explainer montage product_ad captions_world script_to_video

.PHONY: demo test system system-test venv lint typecheck bench clean

system-test: PACKAGES = $(SYSTEM_PACKAGES) $(TEST_PACKAGES)
system system-test: PACKAGES ?= $(SYSTEM_PACKAGES)
system system-test:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: system venv
	@$(PY) -c "from pathlib import Path; from framefleet.samples import make_all; make_all(Path('examples/media'))"
	@mkdir -p examples/out
	@for e in $(EXAMPLES); do \
	  echo "rendering examples/$$e.json"; \
	  $(VENV)/bin/framefleet render examples/$$e.json -o examples/out/$$e.mp4 || exit 1; \
	done
	@echo "queueing examples/product_ad.json as a job (embedded worker, memory:// broker)"
	@FRAMEFLEET_LOCAL_ROOT=$(CURDIR)/examples FRAMEFLEET_STORAGE_URL=file://$(CURDIR)/examples/out/jobs \
	  $(VENV)/bin/framefleet submit examples/product_ad.json --wait > examples/out/job.json
	@echo; echo "Rendered:"; ls -1 $(CURDIR)/examples/out/*.mp4 | sed 's/^/  /'
	@echo "  $$($(PY) -c "import json; print(json.load(open('examples/out/job.json'))['result']['url'])")  (the queued job)"

test: system-test venv
	$(VENV)/bin/ruff check framefleet tests bench
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check framefleet tests bench
	$(VENV)/bin/mypy

bench: system-test venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/render_bench.py
	$(PY) bench/cuts_bench.py
	$(PY) bench/chunks_bench.py
	$(PY) bench/fetch_bench.py
	$(PY) bench/captions_bench.py
	$(PY) bench/queue_bench.py
	$(PY) bench/chaos_bench.py
	$(PY) bench/fairness_bench.py
	$(PY) bench/state_bench.py

clean:
	rm -rf examples/out examples/media bench/out .pytest_cache
