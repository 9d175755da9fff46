# Two entry points on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-fast benchmarks clean-demo

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --user --name python3 >/dev/null
	touch $(STAMP)

# Synthetic competition -> clean -> train -> submit -> score -> predict_pair (a few minutes on 2 cores).
demo: $(STAMP)
	$(BIN)/painter demo --out demo

# Lint, then the whole suite, real-data tests included when ../shared/data is present.
test: $(STAMP)
	$(BIN)/ruff check painter tests benchmarks tools
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -ra -m "not slow"

# The benchmark suite (needs ../shared/data; about an hour on 2 cores): accuracy per source and on
# pbn_dev, speed, memory, scale. Recipes (benchmarks/recipes/) rebuild shipped files and are run by hand.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/sources.py --train 30,70,all --write
	$(BIN)/python benchmarks/views.py --write
	$(BIN)/python benchmarks/views.py --timing --write
	$(BIN)/python benchmarks/detail_disk.py --write
	$(BIN)/python benchmarks/accuracy.py --methods lda
	$(BIN)/python benchmarks/pair_scoring.py
	$(BIN)/python benchmarks/embed_speed.py
	$(BIN)/python benchmarks/embed_profile.py
	$(BIN)/python benchmarks/embed_memory.py
	$(BIN)/python benchmarks/cli_latency.py
	$(BIN)/python benchmarks/classify_search.py
	bash benchmarks/cold_run.sh

clean-demo:
	rm -rf demo
