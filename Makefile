# regrep: the two set-up commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
# Debian packages the tests, the demo and the benchmark run for real (chromium and its
# driver: the Replication page's browser tests, headless, with no browser download).
APT_PACKAGES := docker-registry skopeo apache2-utils chromium chromium-driver
# The lowest Airflow regrep supports (pyproject.toml: apache-airflow>=3.2,<4), and the day after
# its release: its test environment is resolved as an install on that day resolved it.
LOWEST_AIRFLOW := 3.2.0
LOWEST_AIRFLOW_DAY := 2026-04-08
LOWEST_VENV := .venv-airflow-$(LOWEST_AIRFLOW)
LOWEST_REQUIREMENTS := requirements/airflow-$(LOWEST_AIRFLOW).txt

.PHONY: demo demo-stop test lint typecheck pytest pytest-lowest bench env system-deps dist \
	lowest-airflow-lock ui-screenshots

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

## The whole test suite with its linters on the locked Airflow, then the smoke subset on the
## lowest supported Airflow: what CI runs.
test: env lint typecheck pytest pytest-lowest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

pytest:
	$(VENV)/bin/pytest

pytest-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/pytest -m smoke -p no:cacheprovider

## A second environment: the lowest supported Airflow, pinned by $(LOWEST_REQUIREMENTS), and regrep.
$(LOWEST_VENV)/.installed: $(VENV)/.installed $(LOWEST_REQUIREMENTS) pyproject.toml
	python3 -m uv venv --quiet --clear --python $(PY) $(LOWEST_VENV)
	python3 -m uv pip sync --quiet --python $(LOWEST_VENV)/bin/python $(LOWEST_REQUIREMENTS)
	python3 -m uv pip install --quiet --python $(LOWEST_VENV)/bin/python --no-deps --editable .
	@touch $@

## Re-resolve $(LOWEST_REQUIREMENTS): regrep's dependencies and its dev group with the lowest
## Airflow, from packages published by $(LOWEST_AIRFLOW_DAY).
lowest-airflow-lock:
	echo "apache-airflow==$(LOWEST_AIRFLOW)" | python3 -m uv pip compile --quiet pyproject.toml - \
	  --group dev --python-version 3.11 --exclude-newer $(LOWEST_AIRFLOW_DAY) \
	  --custom-compile-command "make lowest-airflow-lock" -o $(LOWEST_REQUIREMENTS)

## regrep's wheel and sdist in dist/, to install into an existing Airflow (README).
dist: env
	python3 -m uv build --out-dir dist

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
	$(PY) bench/bench_scale_out.py
