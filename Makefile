# One command for each main job; each does its own set-up (venv, pip, apt) on a fresh machine.
#   make demo    the live demo: embedded broker, rotel, a worker, synthetic agents (two stopped by the guard),
#                alerts printed, one delivered through a local Alertmanager
#   make test    ruff + the whole test suite (unit, end-to-end, deploy)
#   make bench   benchmarks/ (throughput ratios measured side by side)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages the tests use: promtool (deploy tests), stunnel4 (the TLS front of the secure-Kafka tests).
setup: $(STAMP)
	@(command -v promtool && command -v stunnel4) >/dev/null 2>&1 || ( [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager stunnel4 >/dev/null) \
	  || echo "note: promtool or stunnel4 not installed; the tests that need them will be skipped" )

lint: $(STAMP)
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/pytest -q

demo: setup
	$(BIN)/agentwatch demo

bench: $(STAMP)
	$(BIN)/python benchmarks/core.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
