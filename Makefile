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

# The benchmark suite (needs ../shared/data; hours on 2 cores, the seven methods of accuracy.py
# half an hour of it): every script in benchmarks/ rewrites its own sections of RESULTS.md
# (--write). Recipes (benchmarks/recipes/) rebuild shipped files or choose shipped defaults, and
# experiments (benchmarks/experiments/) keep negative results: both are run by hand.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/sources.py --train all --write
	$(BIN)/python benchmarks/views.py --write
	$(BIN)/python benchmarks/views.py --timing --write
	$(BIN)/python benchmarks/detail_disk.py --write
	$(BIN)/python benchmarks/accuracy.py --methods lda,lda-lite0,lda-nolog,cosface,bce,contrastive,triplet --write
	$(BIN)/python benchmarks/classify_search.py --write
	$(BIN)/python benchmarks/pair_scoring.py --write
	$(BIN)/python benchmarks/context_scale.py --write
	$(BIN)/python benchmarks/embed_speed.py --write
	$(BIN)/python benchmarks/litert_ceiling.py --write
	$(BIN)/python benchmarks/embed_profile.py --write
	$(BIN)/python benchmarks/embed_memory.py --write
	$(BIN)/python benchmarks/cli_latency.py --write
	$(BIN)/python benchmarks/cluster_throughput.py --n 1000 --workers 1,2 --task 64 --write
	$(BIN)/python benchmarks/ivf_index.py --write
	$(BIN)/python benchmarks/ivf_recall_real.py --write
	bash benchmarks/cold_run.sh --write

clean-demo:
	rm -rf demo
