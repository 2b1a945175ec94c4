# Every target installs what it needs: .venv is (re)built when missing or when pyproject.toml
# changed, and reused otherwise.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= auto

.PHONY: demo test test-dbpath dev bench bench-full bench-baseline bench-compare explore lint format clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python 3.11+ is needed, found " + sys.version.split()[0] + "; run: make PYTHON=python3.11 ...")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the project into $(VENV) (once; again only when pyproject.toml changes)"
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

# A month of the reference platform in production (every schedule, orders, invoices, an outage),
# judged by every checker; prints the summary and the HTML report's path.
demo: $(STAMP)
	$(PY) -m harness.cli replay month-in-production --report reports

test: $(STAMP)
	@tools/ensure-chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

# The database and broker layer only; CI runs it against the machine's PostgreSQL and Redis.
test-dbpath: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q -m dbpath

# The seed's "Local Development Setup": migrations, demo data, schedules, qcluster (django_q.log),
# dev server on :8001 and the fakes over real HTTP; Ctrl+C stops everything.
dev: $(STAMP)
	cd reference && ../$(PY) manage.py dev

# Benchmarks (docs/benchmarks.md): real qcluster on PostgreSQL and Redis, plus the raw floors.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--bench-tasks=200 --bench-rounds=2".
BENCH_DIR := reports/bench
BENCH_JSON := $(BENCH_DIR)/latest.json
BENCH_BASELINE ?= $(firstword $(wildcard $(BENCH_DIR)/baseline.json) benchmarks/results/baseline-2core.json)
BENCH_THRESHOLD ?= 15
BENCH_WORK_TOLERANCE ?= 2
BENCH_ARGS ?=

bench: $(STAMP)
	@mkdir -p $(BENCH_DIR)
	@uptime
	PYTHONHASHSEED=0 $(PY) -m pytest benchmarks -q -p no:xdist --benchmark-only --benchmark-json=$(BENCH_JSON) $(BENCH_ARGS)
	$(PY) -m benchmarks.report summary $(BENCH_JSON) --md $(BENCH_DIR)/summary.md --html $(BENCH_DIR)/chart.html

# The full grid (48 drain configurations): an estimated 35-40 minutes on 2 cores.
bench-full: $(STAMP)
	$(MAKE) bench BENCH_ARGS="--bench-grid=full $(BENCH_ARGS)"

# Keep the latest run as this machine's baseline for bench-compare.
bench-baseline:
	cp $(BENCH_JSON) $(BENCH_DIR)/baseline.json

# The performance gate (on demand, not in `make test`): run, then fail (exit 1) when an in-process
# benchmark does more counted work per task (SQL statements, rows, Python calls) than
# BENCH_BASELINE by over BENCH_WORK_TOLERANCE %, or a benchmark without counters (real clusters)
# is more than BENCH_THRESHOLD % slower with every round slower.
bench-compare: bench
	$(PY) -m benchmarks.report compare $(BENCH_BASELINE) $(BENCH_JSON) --threshold $(BENCH_THRESHOLD) --work-tolerance $(BENCH_WORK_TOLERANCE)

# Property tests under the ``thorough`` Hypothesis profile, then a fault-space search of the buggy
# renewal fixture (it must find and shrink the duplicate renewal: exit 1 is the point), then the
# written scenario replayed against the fixed twin (exit 0). See docs/properties.md.
explore: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest tests/properties -n $(PYTEST_WORKERS) -q
	$(PY) -m harness.cli explore tests/fixture_apps/buggy_renewal/scenario.toml --budget 500 \
		--out explore/buggy-renewal-minimal.toml; test $$? -eq 1
	RENEWAL_VARIANT=fixed $(PY) -m harness.cli replay explore/buggy-renewal-minimal.toml

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean-venv:
	rm -rf $(VENV)
