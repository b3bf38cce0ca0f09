# The course's commands: `make lab` opens the lessons, `make test` checks everything.
# Both create the virtual environment in .venv on first use (Python >= 3.10 and pip only);
# `make lab` installs what a learner needs (the `lab` extra), `make test` adds the test
# tools (the `test` extra). Without make (Windows): python -m camcourse.course lab | test.
# `make book` builds the course's website (EDITION=student: without solutions or answers);
# `make test-browser` runs lessons in JupyterLab in headless Chromium (both install what
# they need: the `book` extra and Debian's chromium).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-lab
TEST_STAMP := $(VENV)/.installed-test
BOOK_STAMP := $(VENV)/.installed-book
EDITION ?= full

.PHONY: lab test test-fast lint colab-check book test-browser browser-deps publish clean

# Each step's failure ends with one line that says what to do (pip's own message above it).
NEW_VENV = test -x $(BIN)/python || { $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	{ echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'),\
	the course needs 3.10 or newer: install one and name it, e.g. make $(or $(MAKECMDGOALS),lab) PYTHON=python3.12" >&2; exit 1; }; \
	$(PYTHON) -m venv $(VENV); }
PIP_FAILED = { echo "error: installing failed: the first run downloads the course's packages\
	and needs the network; pip's message is above" >&2; exit 1; }

$(STAMP): pyproject.toml
	@$(NEW_VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip || $(PIP_FAILED)
	$(BIN)/python -m pip install --quiet -e ".[lab]" || $(PIP_FAILED)
	touch $(STAMP)
$(TEST_STAMP): pyproject.toml
	@$(NEW_VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip || $(PIP_FAILED)
	$(BIN)/python -m pip install --quiet -e ".[test]" || $(PIP_FAILED)
	touch $(TEST_STAMP)

# Containers often run as root, where JupyterLab refuses to start without --allow-root.
ROOT_USER := $(filter 0,$(shell id -u 2>/dev/null))
LAB_FLAGS := $(if $(ROOT_USER),--allow-root)

# Opens on the student copies (exercises to do); the full lessons are one folder up.
lab: $(STAMP)
	@echo "Exercises: notebooks/student/ (open). Full lessons with solutions: notebooks/."
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=notebooks \
	    --LabApp.default_url=/lab/tree/student/00_setup.ipynb

# Unit tests (tests/test_colab.py runs every student copy with a plain executor, as
# Colab's "Run all" does), camlib's and camcourse's docstring examples, then every lesson
# executed under nbval (outputs are not compared).
test: $(TEST_STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest tests camlib camcourse notebooks/[0-9]*.ipynb --doctest-modules --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider

# The inner loop: unit tests and docstring examples without those marked slow.
test-fast: $(TEST_STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest tests camlib camcourse --doctest-modules -m "not slow" -p no:cacheprovider

lint: $(TEST_STAMP)
	$(BIN)/ruff check camlib camcourse tests notebooks book

# Point the course at its repository (badges, set-up cells, student copies, docs):
#   make publish REPO=https://github.com/ME/cam-course [BRANCH=main]
# Without REPO it would only re-sync with the current setting: stop before installing anything.
ifneq ($(filter publish,$(MAKECMDGOALS)),)
ifeq ($(REPO),)
$(error usage: make publish REPO=https://github.com/OWNER/NAME [BRANCH=main])
endif
endif
publish: $(TEST_STAMP)
	$(BIN)/python -m camcourse.coursework publish $(REPO) $(if $(BRANCH),--branch $(BRANCH))

# Run the lessons against the package versions Colab ships (its published list,
# github.com/googlecolab/backend-info pip-freeze.txt, August 2026), with camlib and
# camcourse installed the way the Colab set-up cell does: --no-deps. Then the set-up cell
# itself, with Colab detected, against a local bare repository (tests/test_colab.py). Every
# dependency of the project must be in this list: a new one that Colab lacks fails here.
COLAB_VENV := .venv-colab
COLAB_PINS := numpy==2.1.3 matplotlib==3.10.0 ipywidgets==7.7.1 scikit-learn==1.6.1 \
              scikit-image==0.25.2 scipy==1.16.3 tqdm==4.67.3 ipykernel==6.17.1 \
              numba==0.61.2 llvmlite==0.44.0
colab-check:
	test -x $(COLAB_VENV)/bin/python || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet "torch>=2.2" "torchvision>=0.17" $(COLAB_PINS) nbval pytest
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	MPLBACKEND=Agg $(COLAB_VENV)/bin/python -m pytest notebooks/[0-9]*.ipynb --nbval-lax -p no:cacheprovider
	CAMLIB_COLAB_PYTHON=$(COLAB_VENV)/bin/python $(COLAB_VENV)/bin/python -m pytest \
	    tests/test_colab.py -k "set_up_cell or downloaded" -p no:cacheprovider -s

# The website's and the browser tests' packages, Debian's chromium (Playwright drives the
# system browser; it downloads none of its own) and npm (it fetches MathJax for the site).
SUDO := $(if $(ROOT_USER),,sudo)
$(BOOK_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[book]"
	touch $(BOOK_STAMP)
browser-deps: $(BOOK_STAMP)
	@test -n "$$CAMLIB_CHROMIUM" || command -v chromium >/dev/null || \
	    { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm; }

# The course's website in build/book/html (lessons executed once, then reused from
# build/book-cache/EDITION until a lesson, camlib, camcourse or data/ changes), then every
# page checked in headless Chromium; screenshots of the lessons in build/book-screenshots/.
# EDITION=full (default): each solution folded under "Show solution", and the answers page;
# EDITION=student: no solutions, no answers, no teacher's guide (for a course taught for
# credit): its pages are the student copies executed, so no output on them comes from a
# solution.
book: browser-deps
	$(BIN)/python book/build.py --edition $(EDITION)
	CAMLIB_BROWSER_TESTS=1 CAMLIB_BOOK_EDITION=$(EDITION) $(BIN)/python -m pytest \
	    tests/test_browser_book.py -q -p no:cacheprovider

# Lessons 04, 05 and 07 in JupyterLab in headless Chromium: Run All, widgets redraw (about 5
# minutes on a busy 2-core machine; stopped at 15).
test-browser: browser-deps
	CAMLIB_BROWSER_TESTS=1 timeout 900 $(BIN)/python -m pytest tests/test_browser_lab.py -q -s -p no:cacheprovider

clean:
	rm -rf $(VENV) $(COLAB_VENV) .pytest_cache build
