# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)

.PHONY: run test deps test-deps system-deps translations extract-messages worker bench lint vendor clean

$(BIN)/activate:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

system-deps:
	sh scripts/system-deps.sh

deps: system-deps $(VENV)/.installed translations

## Compile the Babel catalogs (translations/<ll>/LC_MESSAGES/messages.po -> .mo); part of every build.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations

## Re-extract UI strings and merge them into every catalog (run after changing strings).
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i translations/messages.pot -d translations

test-deps: $(VENV)/.installed translations
	sh scripts/system-deps.sh --test

## make run: SQLite under instance/, jobs inline, demo data, http://127.0.0.1:5000
run: deps
	mkdir -p instance
	$(BIN)/flask certify keys generate --if-missing
	$(BIN)/flask certify keys generate-shc --if-missing
	$(BIN)/flask certify keys eu-dsc --if-missing
	$(BIN)/flask db upgrade
	$(BIN)/flask certify seed
	@echo "Demo API client (id and secret): instance/demo-client.json"; cat instance/demo-client.json; echo
	@echo "Demo sign-ins at http://127.0.0.1:5000/login (one-time codes are printed below, SMS_BACKEND=console):"
	@echo "  1691742639  citizen (portal; pre-enrolled as 987456126)"
	@$(BIN)/flask facility demo-users
	SMS_BACKEND=$${SMS_BACKEND:-console} EMAIL_BACKEND=$${EMAIL_BACKEND:-console} $(BIN)/flask run --host 127.0.0.1 --port 5000

## make test: the full suite against PostgreSQL and Redis (fails if either is unreachable)
test: test-deps
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

worker: deps
	$(BIN)/python worker.py

bench: deps
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python bench/issue.py

clean:
	rm -rf $(VENV) instance/*.sqlite3

lint: $(VENV)/.installed
	$(BIN)/ruff check --select F,E9,I core certify portal facility tests bench worker.py wsgi.py

## Rebuild the in-browser verifier (static/vendor/: divoc-verifier.js, zxing_reader.wasm, licences) from frontend/.
vendor:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
