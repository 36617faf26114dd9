# The two commands: `make run` (the hub in demo mode) and `make test` (the whole suite).
# Both set up everything they need on a fresh Debian machine with Python 3.11+.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= .storehub-demo

.PHONY: run test bench lint setup broker clean

run: setup
	$(BIN)/storehub demo --dir $(DEMO_DIR)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/storehub bench rtt --clients 1 --seconds 5
	$(BIN)/storehub bench rtt --clients 20 --seconds 5
	$(BIN)/storehub bench rtt --clients 20 --rate 5 --seconds 5
	$(BIN)/storehub bench api
	$(BIN)/storehub bench sync

# ruff (with the complexity bound, pyproject names the exceptions) and its formatter;
# DESIGN.md's import rules are a test (tests/test_architecture.py), also `lint-imports`.
lint: setup
	$(BIN)/ruff check hub devices bus tui cloud_link tests
	$(BIN)/ruff format --check hub devices bus tui cloud_link tests
	$(BIN)/lint-imports

setup: broker $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# Mosquitto and its clients come from Debian; the hub runs the broker itself.
broker:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Mosquitto (apt-get)…"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto mosquitto-clients \
		|| { echo "Could not install Mosquitto. Install the packages mosquitto and mosquitto-clients, then retry." >&2; exit 1; }; \
	else \
		echo "Mosquitto is missing and apt-get is not available: install Mosquitto 2.x, then retry." >&2; exit 1; \
	fi
	@command -v mosquitto_pub >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq mosquitto-clients; }

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
