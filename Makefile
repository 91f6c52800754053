# DomainLens: `make run` starts the dashboard, `make test` runs the test suite.
# Both create/refresh the local virtualenv from requirements.lock first (idempotent; fast when up to date).
.PHONY: run test test-slow lint bench setup lock screenshots
VENV := .venv
# Imaging data is not on any package registry: use a checkout-neighbour shared/data folder
# when there is one, unless DOMAINLENS_DATA already points somewhere.
SHARED_DATA := $(wildcard $(abspath ..)/shared/data)
ifneq ($(SHARED_DATA),)
export DOMAINLENS_DATA ?= $(SHARED_DATA)
endif

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(VENV)/bin/domainlens serve

test: setup
	@bash scripts/test.sh

# The long real-data quality runs (marked slow): model quality bars on the full datasets.
test-slow: setup
	@bash scripts/test.sh -m slow

# Re-resolve every dependency at its newest allowed version and rewrite requirements.lock.
lock:
	@bash scripts/lock.sh

# docs/screenshots/: every page's five tabs at 1440x900 in headless chromium (apt-get install -y chromium).
screenshots: setup
	$(VENV)/bin/python scripts/screenshots.py

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy -p dashboard -p domains -p models -p benchmarks

# One table of every hot-path target (ours vs a baseline in the same process); serve_startup and
# translation_throughput run on their own.
bench: setup
	$(VENV)/bin/python -m benchmarks.bench
