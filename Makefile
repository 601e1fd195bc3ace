# regrep: the two set-up commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
# Debian packages the tests, the demo and the benchmark run for real (chromium and its
# driver: the Replication page's browser tests, headless, with no browser download).
APT_PACKAGES := docker-registry skopeo apache2-utils chromium chromium-driver

.PHONY: demo demo-stop test lint typecheck pytest bench env system-deps ui-screenshots

## Install what the project needs: Debian packages (real registries, skopeo) and the locked venv.
env: system-deps $(VENV)/.installed

system-deps:
	@if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null \
	    || ! command -v htpasswd >/dev/null || ! command -v chromium >/dev/null \
	    || ! command -v chromedriver >/dev/null; then \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(VENV)/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	python3 -m uv sync --frozen --compile-bytecode
	@touch $@

## The main job on the embedded default: two local registries, a demo rule, airflow standalone.
demo: env
	$(PY) scripts/demo.py start

demo-stop:
	$(PY) scripts/demo.py stop

## The whole test suite with its linters: what CI runs.
test: env lint typecheck pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest

## The README's pictures of the Replication page, taken again by its browser test.
ui-screenshots: env
	REGREP_UI_SCREENSHOTS=docs/ui $(VENV)/bin/pytest tests/integration/deployment/test_replication_page.py

## Benchmarks against skopeo, each printing ratios measured in the same run (not tests).
bench: env
	$(PY) bench/bench_copy.py
	$(PY) bench/bench_end_to_end.py
	$(PY) bench/bench_memory.py
	$(PY) bench/bench_scale.py
	$(PY) bench/bench_speed_limit.py
