# Everyday targets. Every target uses the project virtualenv in .venv (created on demand).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv prerequisites test unit integration e2e e2e-peers lint bench bench-latency bench-scale bench-peers bench-verdicts demo demo-evaluate demo-replay cluster-build peers peer-smoke cluster-up cluster-down cluster-status helm chart-crds chart-docs chart-check chart-lint dist image argocd-cm lua-harness reference clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/canarygate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/canarygate ## create .venv with the package and dev tools

demo: venv prerequisites ## the operator live on a local cluster: one release promoted, one rolled back (ARGS=--keep, --stop, --chart: installed with the Helm chart)
	$(BIN)/python -m lab.demo $(ARGS)

demo-evaluate: venv prerequisites ## the offline CLI: canarygate evaluate on the example gates against a fixture Prometheus
	$(BIN)/python -m lab.demo_evaluate $(ARGS)

demo-replay: venv prerequisites ## canarygate replay on a week of fixture history; draws docs/images/replay-storefront-week.png (ARGS=--serve)
	$(BIN)/python -m lab.demo_replay $(ARGS)

# Each suite is its own step with its own time limit, so a hang names the suite that hung.
test: venv ## everything CI runs: lint, unit, integration (real Prometheus), e2e (real cluster), e2e-peers (Argo Rollouts, Flagger)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory e2e-peers

unit: venv ## fast unit and property tests only
	timeout 10m $(BIN)/pytest -q tests/unit

integration: venv prerequisites ## tests against a real Prometheus started by the tests
	timeout 15m $(BIN)/pytest -q tests/integration

e2e: venv prerequisites ## tests against a real control plane (built/reused by e2e/cluster)
	timeout 30m $(BIN)/pytest -q tests/e2e --ignore=tests/e2e/peers

e2e-peers: venv prerequisites ## Argo Rollouts and Flagger (built once from their Go modules, cached) asking canarygate's verdict API on the local control plane
	e2e/cluster/build flagger argo-rollouts
	timeout 30m $(BIN)/pytest -q tests/e2e/peers

prerequisites: ## install Debian's prometheus and etcd-server if missing (sudo when not root)
	@scripts/install-prerequisites

lint: venv ## ruff, mypy --strict, import-linter layering contracts
	$(BIN)/ruff check src lab tests bench e2e
	$(BIN)/ruff format --check src lab tests bench e2e
	$(BIN)/mypy
	cd e2e/cluster && ../../$(BIN)/mypy --strict _common.py _build.py _control_plane.py _pki.py
	$(BIN)/lint-imports
	$(BIN)/python -m lab.chart check

bench: venv ## 1,000 gates x 3 journeys against the real Prometheus fixture
	$(BIN)/python -m bench.evaluate_many

bench-verdicts: venv prerequisites ## the verdict API's cost: 1,000 callers polling every 10 s against shared journeys (ARGS=--json, --gates N, --every S)
	$(BIN)/python -m bench.verdict_polling $(ARGS)

bench-latency: venv prerequisites ## fault on -> rollback latency of the live operator, per interval (ARGS=--json, --runs N)
	$(BIN)/python -m bench.rollback_latency $(ARGS)

bench-scale: venv prerequisites ## 1,000 then 10,000 gates on one operator at 30 s: CPU, RSS, ticks, writes, requests (ARGS=--gates 1000, --steady S)
	$(BIN)/python -m bench.scale $(ARGS)

bench-peers: venv prerequisites ## canarygate and Flagger side by side, N = 100 and 1,000, one run on the local control plane (ARGS=--gates 100 --json out.json)
	$(BIN)/python -m bench.peer_compare $(ARGS)

cluster-build: ## build (or reuse) the control-plane binaries, kwok and helm, cached under ~/.cache/canarygate
	e2e/cluster/build

peers: ## build (or reuse) the peers Flagger and Argo Rollouts from their Go modules, cached under ~/.cache/canarygate
	e2e/cluster/build flagger argo-rollouts

peer-smoke: venv ## Flagger and Argo Rollouts (built if needed) each take one release through on the local control plane (or KUBECONFIG)
	$(BIN)/python -m lab.peer_smoke $(ARGS)

cluster-up: ## start (or reuse) the local control plane; prints the KUBECONFIG
	e2e/cluster/up

cluster-down: ## stop the local control plane
	e2e/cluster/down

cluster-status: ## health of the local control plane
	e2e/cluster/status

helm: ## build (or reuse) helm from its Go module, cached under ~/.cache/canarygate (scripts/helm runs it)
	e2e/cluster/build helm

chart-crds: venv ## copy crds/ into charts/canarygate/crds/ (crds/ is the only source)
	$(BIN)/python -m lab.chart crds

chart-docs: venv ## regenerate the values table of charts/canarygate/README.md from values.yaml
	$(BIN)/python -m lab.chart docs

chart-check: venv ## fail when the chart's CRD copy or values table drifted, or a value lacks a comment
	$(BIN)/python -m lab.chart check

chart-lint: helm ## helm lint --strict on charts/canarygate
	scripts/helm lint --strict charts/canarygate

dist: venv ## build the wheel into dist/ (the version is canarygate.__version__)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/canarygate-*.whl

image: ## build the container image canarygate:VERSION with Docker (see Dockerfile)
	docker build -t canarygate:$$($(BIN)/python -c 'import canarygate; print(canarygate.__version__)') .

reference: venv ## regenerate docs/reference.md from the CRD (a unit test fails when it is stale)
	$(BIN)/python scripts/render-crd-reference

argocd-cm: ## regenerate gitops/argocd/argocd-cm.yaml from gitops/argocd/health.lua
	scripts/render-argocd-cm

lua-harness: ## build (or reuse) the gopher-lua harness that runs health.lua as Argo CD does
	scripts/build-lua-harness

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
