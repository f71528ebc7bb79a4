# MindPost: `make run` serves the product on embedded defaults, `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest venv clean-venv

$(VENV)/.created:
	@interp="$$(bin/find-python)" && echo "Using $$interp" && "$$interp" -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@touch $@

# Reinstall only when a requirements file changed.
$(VENV)/.base: $(VENV)/.created requirements/base.txt
	$(PIP) install -q -r requirements/base.txt
	@touch $@

$(VENV)/.test: $(VENV)/.base requirements/test.txt
	$(PIP) install -q -r requirements/test.txt
	$(PIP) check
	@touch $@

venv: $(VENV)/.test

run: $(VENV)/.base
	$(PY) manage.py runstack

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.test
	$(VENV)/bin/mypy

pytest: $(VENV)/.test
	$(VENV)/bin/pytest

test: lint typecheck pytest

clean-venv:
	rm -rf $(VENV)
