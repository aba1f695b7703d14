# The README's two commands: `make book` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test data zoo install sync clean browser

# Create the virtual environment and install the tested stack (requirements.txt) and harlearn.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Generate the SynthHAR datasets the chapters read (skipped when already present).
data: $(STAMP)
	HARLEARN_PROFILE=$${HARLEARN_PROFILE:-book} $(BIN)/python -m harlearn.data.synthhar --prepare

# Rebuild every course checkpoint (harlearn.zoo) from the recipes in harlearn/zoo/recipes.py, on the
# SynthHAR pretraining corpus (generated on first use), into harlearn/zoo/weights/. Times per entry:
# harlearn/zoo/README.md. An interrupted build resumes; one entry: python -m harlearn.zoo build NAME.
zoo: data
	$(BIN)/python -m harlearn.zoo build all

# Execute every chapter in the `book` profile (override with HARLEARN_PROFILE) and build _build/html.
# The execution cache is keyed on the notebooks' code, not on the profile: drop it when the
# profile changes, so a `ci` run's outputs are never shown as `book` results. Every number the
# chapters' tables show is recorded in _build/results/<chapter>.json; the build ends with their
# summary and what changed since the previous build (harlearn.experiments summary).
book: data
	@profile=$${HARLEARN_PROFILE:-book}; mkdir -p _build; \
	if [ "$$(cat _build/.profile 2>/dev/null)" != "$$profile" ]; then rm -rf _build/.jupyter_cache _build/html _build/jupyter_execute _build/results _build/results.previous; fi; \
	echo "$$profile" > _build/.profile; \
	HARLEARN_PROFILE=$$profile HARLEARN_RESULTS=$(CURDIR)/_build/results $(BIN)/jupyter-book build --warningiserror --keep-going . && \
	$(BIN)/python -m harlearn.experiments summary $(CURDIR)/_build/results --previous $(CURDIR)/_build/results.previous --save-previous

# Unit tests and every chapter notebook (nbmake) in the `ci` profile; then every chapter again in
# `full` smoke mode: the `full` code path (real loaders on small real-format trees written to
# _build/smoke-data, pretrained weights replaced by random stand-ins through the same loading
# code, the detector included) with only the work cut (HARLEARN_SMOKE=1, harlearn.profiles).
# The ci notebooks run in a copy of the book (_build/ci-site) and keep their outputs there
# (nbmake --overwrite); that copy is then built without executing anything and opened page by
# page in headless Chromium (tests/test_site.py): the published book as a reader meets it.
# Tests and notebooks run on PYTEST_WORKERS pytest-xdist workers of one torch thread each: the
# notebooks' small models leave a second thread mostly idle, and two threads per worker on two
# cores would stall each other.
SMOKE_DATA := $(CURDIR)/_build/smoke-data
SITE := $(CURDIR)/_build/ci-site
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile,)
ONE_THREAD := $(if $(XDIST),OMP_NUM_THREADS=1 MKL_NUM_THREADS=1,)
test: $(STAMP) browser
	HARLEARN_PROFILE=ci $(BIN)/python -m harlearn.data.synthhar --prepare
	rm -rf $(SITE) && mkdir -p $(SITE) && cp -r book tools _toc.yml references.bib $(SITE)/
	sed 's/^  execute_notebooks: .*/  execute_notebooks: "off"   # ci-site: the notebooks already ran under nbmake/' _config.yml > $(SITE)/_config.yml
	$(ONE_THREAD) HARLEARN_PROFILE=ci HARLEARN_RESULTS=$(CURDIR)/_build/results-ci $(BIN)/python -m pytest tests --nbmake --overwrite $(SITE)/book/ $(XDIST) $(PYTEST_ARGS)
	$(BIN)/jupyter-book build --warningiserror --keep-going --quiet $(SITE)
	HARLEARN_SITE=$(SITE)/_build/html $(BIN)/python -m pytest tests/test_site.py $(PYTEST_ARGS)
	$(BIN)/python -m harlearn.data.testing $(SMOKE_DATA)
	$(ONE_THREAD) HARLEARN_PROFILE=full HARLEARN_SMOKE=1 HARLEARN_DATA=$(SMOKE_DATA) HF_HUB_OFFLINE=1 \
	  HARLEARN_RESULTS=$(CURDIR)/_build/results-smoke \
	  $(BIN)/python -m pytest --nbmake --nbmake-timeout=1200 book/ $(XDIST) $(PYTEST_ARGS)

# Headless Chromium and its driver for tests/test_site.py (Debian's packages; CI starts bare).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; }

# Write each chapter's Colab badge and install cell from _config.yml's repository.url and the
# release tag (tools/sync_colab.py), then regenerate its .ipynb (Colab twin) from its MyST source.
sync: $(STAMP)
	$(BIN)/python tools/sync_colab.py
	$(BIN)/jupytext --update --to ipynb book/[0-9]*.md

clean:
	rm -rf _build
