# SocialCRM — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Ports of the web app and the platform simulator; the environment wins (make run PORT=9000 SIMULATOR_PORT=9100).
PORT ?= 8000
SIMULATOR_PORT ?= 8100
MAIL_SIMULATOR_PORT ?= 8101
SMS_SIMULATOR_PORT ?= 8102
# Without DATABASE_URL, commands that need the database run with the bundled PostgreSQL (var/postgres) up.
WITH_DB := $(PY) -m socialcrm.devdb run --
MIGRATE := $(PY) manage.py migrate --noinput && $(PY) manage.py setup_periodic_tasks
SEED := $(MIGRATE) && $(PY) manage.py seed_demo
BANNER := echo "" \
  && echo "  SocialCRM:  http://127.0.0.1:$(PORT)   (log in as demo / demo)" \
  && echo "  Admin:      http://127.0.0.1:$(PORT)/admin/" \
  && echo "  API docs:   http://127.0.0.1:$(PORT)/api/docs/" \
  && echo "  Simulator:  http://127.0.0.1:$(SIMULATOR_PORT)   (stands in for Facebook, Instagram, X and LinkedIn)" \
  && echo "  Mail:       http://127.0.0.1:$(MAIL_SIMULATOR_PORT)/_mail/messages   (stands in for Mailgun; webhooks back to /anymail/mailgun/tracking/)" \
  && echo "  SMS:        http://127.0.0.1:$(SMS_SIMULATOR_PORT)/_sms/messages   (stands in for the SMS gateway; receipts back to /promotions/sms/receipts/)" \
  && echo "  Callbacks:  $$SITE_URL/connections/callback/<platform>/   (SITE_URL)" \
  && echo "  Database:   $${DATABASE_URL:-bundled PostgreSQL in var/postgres}" \
  && echo ""

.DEFAULT_GOAL := help
.PHONY: help install env migrate seed run test lint check-deploy bench drills clean fuzz

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## Create the virtualenv and install the pinned requirements

env: install ## Write a local .env (debug on, a fresh token key, platforms pointed at the simulator); keeps an existing one
	$(PY) -m socialcrm.localenv

migrate: install env ## Apply database migrations and install the periodic jobs
	$(WITH_DB) bash -c '$(MIGRATE)'

seed: install env ## Load the demo tenant (login demo / demo)
	$(WITH_DB) bash -c '$(SEED)'

run: install env ## Set up everything and start web, worker, beat, the platform simulator and the mail and SMS stand-ins (PORT, SIMULATOR_PORT, MAIL_SIMULATOR_PORT, SMS_SIMULATOR_PORT)
	@$(PY) -m socialcrm.ports PORT=$(PORT) SIMULATOR_PORT=$(SIMULATOR_PORT) MAIL_SIMULATOR_PORT=$(MAIL_SIMULATOR_PORT) SMS_SIMULATOR_PORT=$(SMS_SIMULATOR_PORT)
	@export PORT=$(PORT) SIMULATOR_PORT=$(SIMULATOR_PORT) MAIL_SIMULATOR_PORT=$(MAIL_SIMULATOR_PORT) SMS_SIMULATOR_PORT=$(SMS_SIMULATOR_PORT) \
	  && export SITE_URL="$$($(PY) -m socialcrm.localenv --site-url)" \
	  && $(WITH_DB) bash -c '$(SEED) && $(BANNER) && exec $(VENV)/bin/honcho start --env /dev/null --port $(PORT)'

test: install ## Run the whole test suite (on DATABASE_URL; a throwaway bundled PostgreSQL when unset)
	$(PY) -m pytest $(PYTEST_ARGS)

fuzz: install ## Schemathesis on every API operation: all checks, coverage phase, a large budget, the stateful phase (~15 min)
	SCHEMATHESIS_MAX_EXAMPLES=$${FUZZ_EXAMPLES:-200} SCHEMATHESIS_COVERAGE=1 SCHEMATHESIS_STATEFUL=1 \
	  $(PY) -m pytest -q -p no:randomly socialcrm/tests/test_api_schemathesis.py $(PYTEST_ARGS)

lint: install ## Static checks: ruff, and the architecture contracts in .importlinter (no import cycles)
	$(PY) -m ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports

check-deploy: install ## Django's deployment checklist with production-like settings
	DEBUG=0 SECRET_KEY=$$(head -c 48 /dev/urandom | base64) TOKEN_ENCRYPTION_KEYS=$$($(PY) -c 'from connections.vault import generate_key_entry; print(generate_key_entry("k1"))') \
	  ALLOWED_HOSTS=crm.example.com SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=31536000 $(PY) manage.py check --deploy

bench: install ## Benchmarks B1-B6 on local PostgreSQL and Redis, one table at the end (~35 min; not in `make test`)
	$(PY) -m bench.run $(BENCH)

drills: install ## Fault drills: worker SIGKILL, platform storms, Redis and PostgreSQL cuts, beat outage (~10 min)
	$(PY) -m bench.drills $(DRILLS)

clean: ## Remove local state (database, broker queue, media); keeps .env
	rm -rf var/*.sqlite3* var/postgres var/postgres.log var/broker var/media
