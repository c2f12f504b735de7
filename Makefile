# Everything works from a fresh clone: `make demo`, `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS := cache,cdn,sched,video,txn,train,dev
# Real servers the CDN lab (origins, baselines) and the transactions lab (stores) test against.
APT_PACKAGES := nginx-light varnish wrk postgresql-15 redis-server etcd-server etcd-client zookeeper
# What the tests start; a missing one triggers the apt-get below.
SERVICE_FILES := /usr/lib/postgresql/15/bin/postgres /usr/share/java/zookeeper.jar

.PHONY: setup services demo test lint bench-cache bench-cdn bench-sched bench-video bench-txn bench-train clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-* && touch $@

# Installs the Debian packages when a binary is missing (CI runs as root; else via sudo).
services:
	@missing=""; for b in nginx varnishd wrk redis-server etcd; do command -v $$b >/dev/null || [ -x /usr/sbin/$$b ] || missing=1; done; \
	for f in $(SERVICE_FILES); do [ -e $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

demo: setup
	$(BIN)/syslab tour

test: setup services
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2 tests

lint: setup
	$(BIN)/ruff check src tests benchmarks

# Side by side with libCacheSim (GPL, benchmark-only extra); needs the shared traces.
bench-cache: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[cache-bench]'
	$(BIN)/python benchmarks/cache/run.py

# The CDN lab side by side with nginx proxy_cache and Varnish (started and stopped by the scripts).
bench-cdn: setup services
	$(BIN)/python benchmarks/cdn/hit_path.py
	$(BIN)/python benchmarks/cdn/miss_path.py
	$(BIN)/python benchmarks/cdn/tiered.py
	$(BIN)/python benchmarks/cdn/tiered_split.py
	$(BIN)/python benchmarks/cdn/placement.py
	$(BIN)/python benchmarks/cdn/prefetch.py
	$(BIN)/python benchmarks/cdn/tier_hashing.py
	$(BIN)/python benchmarks/cdn/write_doc.py

# The scheduling lab (shared data): simulator and LP speed, fidelity, the policy goals, every
# policy on every shared trace (about 25 min on 2 cores), ρ-guard's variants, then the doc.
bench-sched: setup
	$(BIN)/python benchmarks/sched/speed.py
	$(BIN)/python benchmarks/sched/lp_speed.py
	$(BIN)/python benchmarks/sched/fidelity.py
	$(BIN)/python benchmarks/sched/policies.py
	$(BIN)/python benchmarks/sched/all_traces.py
	$(BIN)/python benchmarks/sched/rho_guard_variants.py
	$(BIN)/python benchmarks/sched/figures.py
	$(BIN)/python benchmarks/sched/write_doc.py

# The video lab: decode and detector speed, filtering on the shared clips and the bound a
# filter knowing the answers would reach, the two-process pipeline (at JPEG quality 80, and
# the highway again at 95), what JPEG does to the answers (needs the shared clips and
# models), then docs/video.md.
bench-video: setup
	$(BIN)/python benchmarks/video/decode.py
	$(BIN)/python benchmarks/video/detectors.py
	$(BIN)/python benchmarks/video/filtering.py
	$(BIN)/python benchmarks/video/oracle.py
	$(BIN)/python benchmarks/video/pipeline.py
	$(BIN)/python benchmarks/video/pipeline.py --clips highway --jpeg-quality 95
	$(BIN)/python benchmarks/video/jpeg.py
	$(BIN)/python benchmarks/video/write_doc.py

# The training lab: the DDP sweep (its run time is in docs/train.md), the allreduce fit,
# our DataParallel against DDP, the timers, the held-out predictions, then docs/train.md.
bench-train: setup
	$(BIN)/python benchmarks/train/sweep.py
	$(BIN)/python benchmarks/train/analyze.py
	$(BIN)/python benchmarks/train/comm.py
	$(BIN)/python benchmarks/train/impls.py
	$(BIN)/python benchmarks/train/bucketing.py
	$(BIN)/python benchmarks/train/timers.py
	$(BIN)/python benchmarks/train/predict.py
	$(BIN)/python benchmarks/train/write_doc.py

bench-txn: setup services
	$(BIN)/python benchmarks/txn/checker.py
	$(BIN)/python benchmarks/txn/stores.py
	$(BIN)/python benchmarks/txn/mdss.py
	$(BIN)/python benchmarks/txn/write_doc.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
