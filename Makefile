# The two commands: `make run` (the hub in demo mode) and `make test` (the whole suite).
# Both set up everything they need on a fresh Debian machine with Python 3.11+.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= .storehub-demo

.PHONY: run test bench lint setup system clean

run: setup
	$(BIN)/storehub demo --dir $(DEMO_DIR)

# On every CPU (pytest-xdist); `make test PYTEST_ARGS=-n0` runs it in one process.
PYTEST_ARGS ?= -n auto --dist loadgroup

test: PACKAGES = $(RUN_PACKAGES) $(TEST_PACKAGES)
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

setup: system $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# What the hub takes from Debian: Mosquitto and its clients (the hub runs the broker
# itself) and the DejaVu fonts shelf labels are drawn in.  `make test` adds what only
# the tests use (TEST_PACKAGES: Tesseract reads labels back, Chromium opens the
# managers' page).  Each is installed once, when missing.
RUN_PACKAGES  := mosquitto mosquitto-clients fonts-dejavu-core
TEST_PACKAGES := tesseract-ocr tesseract-ocr-rus chromium tmux
PACKAGES      ?= $(RUN_PACKAGES)

system:
	@missing=$$(for package in $(PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -z "$$missing" ] || ! command -v dpkg >/dev/null 2>&1; then \
		command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] \
		|| { echo "Mosquitto is missing and this is not Debian: install Mosquitto 2.x and the DejaVu fonts, then retry." >&2; exit 1; }; \
	else \
		echo "Installing from Debian:" $$missing "…"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing \
		|| { echo "Could not install" $$missing "from Debian: install them, then retry." >&2; exit 1; }; \
	fi

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
