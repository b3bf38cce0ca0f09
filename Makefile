# The course's two commands: `make lab` opens the lessons, `make test` checks everything.
# Both create the virtual environment in .venv on first use (Python >= 3.10 and pip only).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Unit tests, then every notebook executed under nbval (outputs are not compared).
test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check camlib tests

clean:
	rm -rf $(VENV) .pytest_cache
