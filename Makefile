# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The local demo user's portal password (make seed/run only; never a server others can reach).
DEMO_PORTAL_PASSWORD ?= demo-portal

.PHONY: install run serve migrate seed test test-postgres lint bench bench-quick bench-growth soak clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT) --portal-password $(DEMO_PORTAL_PASSWORD)

run: seed
	@echo "Customer portal: http://$(HOST):$(PORT)/ (sign up, or log in as demo / $(DEMO_PORTAL_PASSWORD)); sign-up emails are printed here"
	@echo "Serving on http://$(HOST):$(PORT)/graphql/ (admin: create a login with '$(BIN)/python manage.py createsuperuser')"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gates CI runs first: lint rules, formatting, then types of every services and selectors module
# (configuration in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mlapi} $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	bash bench/run.sh

bench-quick: install
	bash bench/run.sh --quick

bench-growth: install
	$(BIN)/python bench/growth.py

SOAK_ARGS ?=
soak: install
	$(BIN)/python soak/run.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) media staticfiles db.sqlite3
