# make demo: create .venv, install needmap, run the main job on the bundled dataset.
# make test: the same set-up, then ruff and the whole test suite.
# make test-fast: the same set-up, then the tests not marked slow (no training of more than a second or two).
# make mutants: mutation testing of the modules where a silent bug changes a decision (docs/testing.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean bench-env bench-env-recbole mutants

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch==2.13.0 is pinned here because that CPU wheel is on this machine's disk; the project's own
# range (pyproject.toml) accepts other releases.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/needmap demo --out demo-output

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools examples
	$(BIN)/ruff format --check src tests benchmarks tools examples

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) demo-output .pytest_cache mutants

# make mutants: mutmut over the modules and tests named in pyproject.toml [tool.mutmut], from a fresh mutants/
# folder, then the summary: mutants killed, timed out, survived, the kill rate and every mutant not killed.
# Not part of 'make test' (about 26 minutes on two cores). One thread per worker: mutmut runs one worker
# per core. 'mutmut run' alone reruns only what changed since the last run.
mutants: $(STAMP)
	rm -rf mutants
	start=$$(date +%s); OMP_NUM_THREADS=1 $(BIN)/mutmut run; status=$$?; \
	echo "mutmut run: $$(( $$(date +%s) - start )) s"; \
	$(BIN)/python tools/mutants_summary.py | tee mutants/summary.txt; exit $$status

# make bench-env: the peer libraries (DeepCTR-Torch, FuxiCTR, LightGBM, PyMC-Marketing) and needmap in their own environment,
# benchmarks/.venv-peers, for benchmarks/bench_accuracy.py. torch==2.13.0 (the CPU wheel on this disk) goes in
# first so that pip never resolves torch itself for the peers.
PEERS := benchmarks/.venv-peers
PEERS_STAMP := $(PEERS)/.installed

$(PEERS)/bin/python:
	$(PY) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q --upgrade pip

$(PEERS_STAMP): benchmarks/requirements-peers.txt pyproject.toml | $(PEERS)/bin/python
	$(PEERS)/bin/pip install -q torch==2.13.0
	$(PEERS)/bin/pip install -q -r benchmarks/requirements-peers.txt
	$(PEERS)/bin/pip install -q -e .
	$(PEERS)/bin/python -c "import torch, deepctr_torch, fuxictr, lightgbm, sklearn, pymc_marketing, implicit, needmap; print('peers ready: torch', torch.__version__)"
	touch $(PEERS_STAMP)

bench-env: $(PEERS_STAMP)

# make bench-env-recbole: RecBole in its own environment (benchmarks/.venv-recbole): it needs ray<=2.6.3 and
# numpy<2, which the other peers (FuxiCTR: ray>=2.52; PyMC-Marketing: numpy>=2) cannot share; setuptools<81
# because ray 2.6.3 imports pkg_resources; scipy<1.13 because RecBole 1.2.1's LightGCN builds its graph with
# dok_matrix._update, which scipy 1.13 removed. For benchmarks/peers/recbole_sasrec.py.
RECBOLE := benchmarks/.venv-recbole
RECBOLE_STAMP := $(RECBOLE)/.installed

$(RECBOLE_STAMP):
	$(PY) -m venv $(RECBOLE)
	$(RECBOLE)/bin/python -m pip install -q --upgrade pip
	$(RECBOLE)/bin/pip install -q torch==2.13.0
	$(RECBOLE)/bin/pip install -q torch==2.13.0 recbole==1.2.1 "numpy<2" "scipy<1.13" "setuptools>=77.0.3,<81"
	$(RECBOLE)/bin/python -c "import recbole.quick_start, numpy; print('recbole', recbole.__version__, 'numpy', numpy.__version__)"
	touch $(RECBOLE_STAMP)

bench-env-recbole: $(RECBOLE_STAMP)
