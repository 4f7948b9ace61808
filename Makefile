# Team Around. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# One process per core with Redis; one process on the embedded default, whose in-memory
# channel layer cannot carry WebSocket pushes between processes.
WORKERS ?= $(if $(REDIS_URL),$(shell nproc),1)

.PHONY: demo serve test check bench bench-matching soak install worker clean

$(BIN)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The GOV.UK Design System's assets, from the npm package pinned in package-lock.json (.npmrc
# keeps download addresses out of the lock file). The files the pages use (its stylesheet, its
# script, and the fonts and images the stylesheet asks for) are copied to $(GOVUK_SERVED), the
# folder the app serves (config/settings.py): not the package's 900 source files, which
# whitenoise would index each time a request handler starts.
GOVUK_DIST := node_modules/govuk-frontend/dist/govuk
GOVUK_SERVED := build/govuk-frontend
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "needs npm (Node.js)"; exit 1; }
	npm ci --no-audit --no-fund
	rm -rf $(GOVUK_SERVED) && mkdir -p $(GOVUK_SERVED)
	cp $(GOVUK_DIST)/govuk-frontend.min.css $(GOVUK_DIST)/govuk-frontend.min.js $(GOVUK_SERVED)/
	cp -R $(GOVUK_DIST)/assets $(GOVUK_SERVED)/assets
	touch $@

install: $(BIN)/.installed node_modules/.installed

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py seed_demo
	$(MAKE) --no-print-directory run

serve: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(MAKE) --no-print-directory run

run:
	EMBEDDED_BEAT=$(if $(REDIS_URL),0,1) $(BIN)/python -m core.serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

worker: install
	$(BIN)/celery -A config worker --beat --loglevel=INFO --concurrency=2

# The tests run in TEST_PROCESSES processes (pytest-xdist; one per core, at most 4), a file's
# tests together in one process (they share its module fixtures: a seeded borough, a live app).
# Each process has its own test database and Redis databases (config/settings.py).
TEST_PROCESSES ?= $(shell n=$$(nproc); [ $$n -gt 4 ] && n=4; echo $$n)
test: install
	FAST_PASSWORD_HASHER=1 $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/lint-imports --no-cache  # the import contracts in pyproject.toml ([tool.importlinter])

bench: install
	$(BIN)/python -m bench

# One web process, 2,000 alert sockets and steady API traffic for SOAK_SECONDS (default 300):
# errors, lost alerts, memory, the push's latency (bench/soak.py). Needs DATABASE_URL and REDIS_URL.
soak: install
	$(BIN)/python -m bench.soak

# Identification alone: 1,000,000 indicator rows linked (make bench runs it too).
bench-matching: install
	$(BIN)/python -m bench identification

clean:
	rm -rf $(VENV) node_modules $(GOVUK_SERVED) db.sqlite3 .pytest_cache
