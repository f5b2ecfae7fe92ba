# Two entry points for newcomers (see README.md): `make demo` and `make test`.
# Every target prints what it does and fails with a one-line reason when a prerequisite is missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
STAMP_VENV  := $(VENV)/.installed
STAMP_HOST  := .cache/host-ready
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help host venv test test-python lint molecule demo demo-clean bench bench-quick docs lock clean

help:
	@echo "make demo        build the local fleet (upstream, a hub, 2 replicas), sync it, show its status, pip install from it"
	@echo "make demo-clean  remove everything make demo created"
	@echo "make test        unit, integration, template, lint and molecule tests (what CI runs)"
	@echo "make bench       benchmarks against bandersnatch 8.2.0 over a shaped WAN, writes bench/RESULTS.md (~25 min),"
	@echo "                 then into Swift against bandersnatch[s3], writes bench/RESULTS-objectstore.md (~15 min)"
	@echo "make bench-quick the ~6-minute subset of make bench (no object store)"
	@echo "make docs        regenerate mirror_tool/example.conf and docs/reference.md from the config schema"

$(STAMP_HOST): scripts/setup-host.sh
	@echo "==> preparing this machine (Debian packages, podman configuration)"
	@bash scripts/setup-host.sh
	@mkdir -p $(dir $@) && touch $@

host: $(STAMP_HOST)

$(STAMP_VENV): requirements/dev.lock pyproject.toml
	@command -v python3 >/dev/null || { echo "make: python3 is missing: apt-get install -y python3 python3-venv" >&2; exit 1; }
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "make: Python 3.11 or newer is required" >&2; exit 1; }
	@echo "==> creating $(VENV) with pinned dependencies (requirements/dev.lock)"
	@test -x $(PY) || python3 -m venv $(VENV) || { echo "make: cannot create a virtualenv: apt-get install -y python3-venv" >&2; exit 1; }
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP_VENV)

test: host venv
	@$(MAKE) --no-print-directory test-python lint molecule
	@echo "==> all tests passed"

test-python: venv
	@echo "==> pytest: client, fake upstream, wrapper, templates"
	@$(BIN)/pytest -p no:cacheprovider tests

lint: venv
	@echo "==> ansible-lint (production profile, offline) and syntax check"
	@$(BIN)/ansible-lint --offline
	@$(BIN)/ansible-playbook --syntax-check playbooks/site.yml -i inventory/production

# Every scenario under molecule/, one after the other, each named in the log. molecule still prints
# one CRITICAL "'molecule/default/molecule.yml' glob failed" line per scenario (its shared-state
# lookup; there is no default scenario): it is not an error, the run goes on.
MOLECULE_SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

molecule: host venv
	@set -e; for scenario in $(MOLECULE_SCENARIOS); do \
	  echo "==> molecule test -s $$scenario (podman test hosts with systemd)"; \
	  $(BIN)/molecule test -s $$scenario; \
	done

demo: host venv
	@$(PY) scripts/demo.py

demo-clean:
	@bash scripts/testhosts.sh down

bench: host venv
	@$(PY) -m bench
	@$(PY) -m bench.objectstore
	@$(PY) -m bench.fleet

bench-quick: host venv
	@$(PY) -m bench --quick

docs: venv
	@echo "==> generating mirror_tool/example.conf and docs/reference.md from mirror_tool/config/schema.py"
	@$(PY) -m mirror_tool.config.render --write

lock:
	@$(BIN)/pip freeze --all | grep -v -E '^(-e|pip==|pypi-mirror-tool)' > requirements/dev.lock

clean:
	rm -rf $(VENV) .cache build dist *.egg-info
