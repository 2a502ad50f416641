# Rapid Response Bot: `make test` on a fresh clone is the only command a contributor needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
# Test processes (pytest-xdist): most of a test's time is waiting on its fakes and processes.
# Tests are handed out one by one and an idle process takes queued ones from the other
# (worksteal): the 20-SIGKILL test alone takes about 50 s, and whole files per process left
# one idle at the end. Every fixture is per test, so nothing is started twice for it.
JOBS ?= 2
PYTEST := $(BIN)/pytest -n $(JOBS) --dist worksteal

.PHONY: install browser test lint types content pytest pytest-sqlite pytest-postgres run demo demo-reset bench messages clean

install: $(STAMP) browser

# Browser tests drive Debian's chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "browser tests need Debian's chromium: sudo apt-get install chromium"; \
	  fi; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install lint types content pytest

lint: install
	$(BIN)/ruff format --check bot tests
	$(BIN)/ruff check bot tests

types: install
	$(BIN)/mypy

# Every language x topic present, SMS within budget, English's key points, strings translated.
content: install
	COLUMNS=200 $(BIN)/rrbot content check

pytest: pytest-sqlite pytest-postgres

# The first pass also prints a coverage line per module of the coordinator console and core.
COVERAGE := --cov=bot.channels.telegram.coordinator --cov=bot.core --cov-report=term

pytest-sqlite: install
	$(PYTEST) $(COVERAGE)

# The same suite again on the real PostgreSQL server; it fails (never skips) if unreachable.
# Tests marked `once` run in the first pass only: the browser tests and the demo (SQLite by
# design), the fuzz test and keyword parsing (input the database does not change), the fakes
# alone, the content and layer checks.
pytest-postgres: install
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTEST) -m "not browser and not once"

run: install
	$(BIN)/rrbot run

# The whole bot on this machine, no accounts: fake Telegram and Twilio, a phone simulator.
demo: install
	$(BIN)/rrbot demo

demo-reset: install
	$(BIN)/rrbot demo --reset

# Figures, not pass/fail: a sign-up burst, then delivery (add ARGS=--large for 100,000).
bench: install
	$(BIN)/python -m tests.bench.signup_burst
	$(BIN)/python -m tests.bench.delivery $(ARGS)
	$(BIN)/python -m tests.bench.voice_calls

# Refresh the translation template and catalogues after changing interface strings.
messages: install
	$(BIN)/pybabel extract --no-location --sort-output --project "Rapid Response Bot" \
		--msgid-bugs-address "translators@example.org" -k n_:1,2 -o config/locale/messages.pot bot
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i config/locale/messages.pot -d config/locale

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
