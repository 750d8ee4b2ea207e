# Everyday targets. Every target uses the project virtualenv in .venv (created on demand).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv test unit integration e2e lint bench demo cluster-build cluster-up cluster-down cluster-status clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/canarygate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/canarygate ## create .venv with the package and dev tools

demo: venv ## evaluate the example gate against the bundled fixture Prometheus
	$(BIN)/python -m lab.demo $(ARGS)

test: venv lint ## everything CI runs: lint, unit, integration (real Prometheus), e2e (real cluster)
	$(BIN)/pytest -q

unit: venv ## fast unit and property tests only
	$(BIN)/pytest -q tests/unit

integration: venv ## tests against a real Prometheus started by the tests
	$(BIN)/pytest -q tests/integration

e2e: venv ## tests against a real control plane (built/reused by e2e/cluster)
	$(BIN)/pytest -q tests/e2e

lint: venv ## ruff, mypy --strict, import-linter layering contracts
	$(BIN)/ruff check src lab tests bench e2e
	$(BIN)/ruff format --check src lab tests bench e2e
	$(BIN)/mypy
	cd e2e/cluster && ../../$(BIN)/mypy --strict _common.py _build.py _control_plane.py _pki.py
	$(BIN)/lint-imports

bench: venv ## 1,000 gates x 3 journeys against the real Prometheus fixture
	$(BIN)/python -m bench.evaluate_many

cluster-build: ## build (or reuse) the control-plane binaries and kwok, cached under ~/.cache/canarygate
	e2e/cluster/build

cluster-up: ## start (or reuse) the local control plane; prints the KUBECONFIG
	e2e/cluster/up

cluster-down: ## stop the local control plane
	e2e/cluster/down

cluster-status: ## health of the local control plane
	e2e/cluster/status

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
