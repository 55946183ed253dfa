# Pomocnik: `make run` starts everything, `make test` runs every check. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APP_ENV  := .venv/app
RASA_ENV := .venv/rasa
APP_PY   := $(APP_ENV)/bin/python
RASA     := $(RASA_ENV)/bin/rasa
MODEL    := var/models/pomocnik.tar.gz
RASA_SOURCES := $(shell find data domain -name '*.yml' 2>/dev/null) config.yml

# Quiet, offline-friendly Rasa/TensorFlow.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help env run run-scaled bench-scaled test test-app test-actions test-rasa shell db model lock clean bench-nlu bench bench-conversations agent-add nlu-inbox-export

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

env: $(APP_ENV)/.lock-sha256 $(RASA_ENV)/.lock-sha256 ## create both Python environments

$(APP_ENV)/.lock-sha256: requirements/app.lock scripts/setup-env.sh
	@scripts/setup-env.sh app

$(RASA_ENV)/.lock-sha256: requirements/rasa.lock scripts/setup-env.sh
	@scripts/setup-env.sh rasa

model: $(MODEL) ## train the Rasa model if it is missing or older than data/, domain/, config.yml

$(MODEL): $(RASA_SOURCES) $(RASA_ENV)/.lock-sha256
	@echo "==> training the Rasa model (progress below)"
	$(RASA) train --domain domain --fixed-model-name pomocnik --out var/models --augmentation 0
	@touch $@

db: $(APP_ENV)/.lock-sha256 ## create/migrate the SQLite database under var/ and load the demo data
	$(APP_PY) -m backend.cli migrate
	$(APP_PY) -m backend.cli seed
	$(APP_PY) -m bot.gateway.cli migrate

run: env model db ## start all five services; Ctrl-C stops them
	@$(APP_PY) scripts/run.py

run-scaled: env model ## the scaled topology: HAProxy, 2 gateways, 2 Rasa, 2 action servers, 2 backends on PostgreSQL + Redis; Ctrl-C stops it
	@$(APP_PY) scripts/run_scaled.py

shell: $(APP_ENV)/.lock-sha256 ## talk to the assistant in the terminal (needs `make run` in another terminal)
	@$(APP_PY) -m bot.shell

test: env model ## the whole suite: pytest (both environments), rasa data validate, rasa test
	$(MAKE) --no-print-directory test-app
	$(MAKE) --no-print-directory test-actions
	$(MAKE) --no-print-directory test-rasa

test-app: $(APP_ENV)/.lock-sha256
	@scripts/ensure-chromium.sh
	$(APP_PY) -m pytest tests --ignore=tests/actions

test-actions: $(RASA_ENV)/.lock-sha256
	$(RASA_ENV)/bin/python -m pytest tests/actions

test-rasa: $(MODEL)
	$(RASA) data validate --domain domain --fail-on-warnings
	$(RASA) test core --model $(MODEL) --stories tests/ --fail-on-prediction-errors --out var/results

bench-nlu: $(RASA_ENV)/.lock-sha256 ## 5-fold NLU benchmark: ours vs Rasa's default and DIET for the entities (~75 min; FOLDS_RUN=2 for the first two), writes docs/benchmarks/nlu.md
	$(RASA_ENV)/bin/python scripts/bench_nlu.py --extra diet=scripts/nlu_configs/diet_entities.yml $(if $(FOLDS_RUN),--max-folds $(FOLDS_RUN))

bench: env model ## the whole stack at 1/10/50 concurrent visitors, gateway vs straight to Rasa (~7 min), writes docs/benchmarks/gateway.md
	$(APP_PY) scripts/bench.py $(ARGS)

bench-scaled: env model ## the gateway path of the embedded and the scaled topology side by side (~12 min), writes docs/benchmarks/scaled.md
	$(APP_PY) scripts/bench.py --scaled $(ARGS)

bench-conversations: env model ## evaluation conversations through the whole stack (~6 min), writes docs/benchmarks/conversations.md
	$(APP_PY) scripts/bench_conversations.py

.PHONY: profile-turn
profile-turn: env model ## where one turn's time goes (NLU, policies, tracker store, actions, gateway) and TF threads (~10 min), writes docs/benchmarks/turn_profile.md
	$(RASA_ENV)/bin/python scripts/profile_turn.py

agent-add: $(APP_ENV)/.lock-sha256 ## add an adviser for the console, or reset their password: make agent-add EMAIL=anna@firma.pl NAME=Anna [EDITOR=1]
	@test -n "$(EMAIL)" -a -n "$(NAME)" || { echo "usage: make agent-add EMAIL=anna@firma.pl NAME=Anna [EDITOR=1|0]"; exit 2; }
	@$(APP_PY) -m bot.gateway.cli agent-add --email "$(EMAIL)" --name "$(NAME)" $(if $(EDITOR),$(if $(filter 1,$(EDITOR)),--editor,--no-editor))

nlu-inbox-export: $(APP_ENV)/.lock-sha256 ## write the NLU inbox's labelled messages to data/nlu/inbox/<date>.yml (review, then commit)
	@$(APP_PY) -m bot.gateway.cli nlu-inbox-export

lock: ## re-resolve requirements/*.in into the lock files (needs the package registry)
	scripts/lock.sh app
	scripts/lock.sh rasa

clean: ## remove environments, model and local state
	rm -rf .venv var
