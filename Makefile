# Latchkey's commands. `make run` and `make test` set everything up on a fresh machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# Two stamps: `make run` needs only what the app runs on; the test, lint and benchmark tools come with the rest.
RUNTIME := $(VENV)/.installed-runtime
INSTALLED := $(VENV)/.installed-dev
# The embedded default: DEBUG on, SQLite, tasks in-process, a generated development key.
EMBEDDED := DEBUG=1

.PHONY: run test bench lint format venv clean

$(RUNTIME): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Latchkey needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(INSTALLED): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(INSTALLED)

run: $(RUNTIME)
	$(EMBEDDED) $(PY) manage.py migrate --noinput
	$(EMBEDDED) $(PY) manage.py create_first_admin
	$(EMBEDDED) $(PY) manage.py runserver 127.0.0.1:8000

test: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

bench: $(INSTALLED)
	$(PY) -m benchmarks

lint: $(INSTALLED)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
