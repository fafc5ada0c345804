# The two commands of the README. Both create .venv and install the project if needed.
#   make book   execute the chapters whose inputs changed (PROFILE=smoke|cpu|gpu, default cpu) and
#               build _build/html; FORCE=1 executes every chapter; ONLY=05 (comma-separated
#               prefixes) only those chapters; PHOTO=path/to/image runs chapter 8's blind methods
#               on your own photo. Ends with a summary table (also _build/run-summary.json)
#   make test   unit tests, every notebook in the smoke profile, the book built from them, and the
#               book and the widgets checked in headless Chromium
#   make lab    JupyterLab on the notebooks, from the project's environment
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= cpu
SEED ?= 0
PHOTO ?=
FORCE ?=
ONLY ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup book test bench lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[book,test,keras,torch,lab]"
	touch $(STAMP)

book: setup
	$(BIN)/python tools/bookrunner.py --profile $(PROFILE) --seed $(SEED) $(if $(PHOTO),--photo "$(PHOTO)") $(if $(FORCE),--force) $(if $(ONLY),--only "$(ONLY)")

test: setup
	MPLBACKEND=Agg DEBLURKIT_QUIET=1 $(BIN)/python -m pytest

lab: setup
	cd notebooks && ../$(BIN)/jupyter lab

bench: setup
	$(BIN)/python bench/bench_restore.py
	$(BIN)/python bench/bench_deblurgan.py
	$(BIN)/python bench/bench_blind.py

clean:
	rm -rf _build book/notebooks  # the executed pages and their cache (_build/execution) too
