# The course's two commands: `make lab` opens the lessons, `make test` checks everything.
# Both create the virtual environment in .venv on first use (Python >= 3.10 and pip only).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test test-fast lint colab-check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Containers often run as root, where JupyterLab refuses to start without --allow-root.
LAB_FLAGS := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

# Unit tests, camlib's docstring examples, then every notebook executed under nbval
# (outputs are not compared).
test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest tests camlib notebooks --doctest-modules --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider

# The inner loop: unit tests and docstring examples without those marked slow.
test-fast: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest tests camlib --doctest-modules -m "not slow" -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check camlib tests notebooks

# Run the lessons against the package versions Colab ships (its published list, August
# 2026), with camlib installed the way the Colab set-up cell does: --no-deps.
COLAB_VENV := .venv-colab
COLAB_PINS := numpy==2.1.3 matplotlib==3.10.0 ipywidgets==7.7.1 scikit-learn==1.6.1 \
              scikit-image==0.25.2 scipy==1.16.3 tqdm==4.67.1 ipykernel==6.17.1
colab-check:
	test -x $(COLAB_VENV)/bin/python || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet "torch>=2.2" "torchvision>=0.17" $(COLAB_PINS) nbval pytest
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	MPLBACKEND=Agg $(COLAB_VENV)/bin/python -m pytest notebooks/[0-9]*.ipynb --nbval-lax -p no:cacheprovider

clean:
	rm -rf $(VENV) $(COLAB_VENV) .pytest_cache
