# Rapid Response Bot: `make test` on a fresh clone is the only command a contributor needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install test lint types pytest pytest-sqlite pytest-postgres run bench messages clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install lint types pytest

lint: install
	$(BIN)/ruff format --check bot tests
	$(BIN)/ruff check bot tests

types: install
	$(BIN)/mypy

pytest: pytest-sqlite pytest-postgres

pytest-sqlite: install
	$(BIN)/pytest

# The same suite again on the real PostgreSQL server; it fails (never skips) if unreachable.
pytest-postgres: install
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest

run: install
	$(BIN)/rrbot run

bench: install
	$(BIN)/python -m tests.bench.signup_burst

# Refresh the translation template and catalogues after changing interface strings.
messages: install
	$(BIN)/pybabel extract --no-location --sort-output --project "Rapid Response Bot" \
		--msgid-bugs-address "translators@example.org" -o config/locale/messages.pot bot
	$(BIN)/pybabel update --no-fuzzy-matching -i config/locale/messages.pot -d config/locale

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
