# Everything works from a fresh clone: `make demo`, `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS := cache,dev

.PHONY: setup demo test lint bench-cache clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(BIN)/syslab tour

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2 tests

lint: setup
	$(BIN)/ruff check src tests benchmarks

# Side by side with libCacheSim (GPL, benchmark-only extra); needs the shared traces.
bench-cache: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[cache-bench]'
	$(BIN)/python benchmarks/cache/run.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
