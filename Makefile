# The course's entry points. Two commands matter:  `make course`  and  `make test`.
# Both bootstrap the environment (.venv from requirements.txt) only when it is missing or out of date.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The stamp's name carries a hash of the pins: edit requirements.txt or pyproject.toml and the next
# `make` reinstalls; otherwise the venv is reused and start-up takes a second.
REQ_HASH := $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
FULL ?= 0
JOBS ?= 2
XDIST := $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadgroup)
DATA_FLAGS := $(if $(filter 1,$(FULL)),--full,)
# The offline subset lives in data/mnist, the full set in data/mnist-full: both can coexist, and every
# notebook, test and tool started by make reads the one chosen here (FULL=1 picks the full set).
DATA_DIR := $(CURDIR)/data/$(if $(filter 1,$(FULL)),mnist-full,mnist)
export COURSE_DATA_DIR := $(DATA_DIR)

.PHONY: help env data course test test-all unit portable lab student lint format saved bench clean

help:
	@echo "make course   set up, fetch data, execute every notebook into build/ (ipynb + html), print a table"
	@echo "make test     set up, fetch data, run pytest: unit tests + nbval over notebooks/ (18 min budget)"
	@echo "make test-all make test + the reruns marked rerun (hosted 05/08, every solution graded)"
	@echo "make lab      open JupyterLab on the course"
	@echo "make student  write student versions (solutions blanked) to build/student/"
	@echo "make site     the executed course as a web site in build/site/ (sidebar, search, offline math; ~1 min)"
	@echo "make grade SUBMISSIONS=dir   grade dir/<student>/NN_x.ipynb into build/grades.csv"
	@echo "make unit     unit tests only (fast)     make lint   ruff (code + notebooks)     make bench   benchmarks"
	@echo "make portable the proof notebooks under other CPU kernels and thread counts [CONFIGS=... ONLY=...]"
	@echo "make saved    regenerate course_utils' saved copies of #@save notebook cells"
	@echo "make gpu-check [PYTHON=python3]   GPU paths as a table (on a GPU machine; uses PYTHON's torch if it has one)"
	@echo "FULL=1        use the full 70,000-image MNIST in data/mnist-full (download needs internet)"
	@echo "              instead of the offline subset in data/mnist, e.g. make lab FULL=1"

env: $(STAMP)

$(STAMP):
	@echo "==> setting up $(VENV) from requirements.txt (first time: a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "==> environment ready"

data: env
	$(PY) -m data_scripts.fetch_mnist $(DATA_FLAGS) --out $(DATA_DIR)

course: env data
	$(PY) -m course_tools.run_course

# The notebooks' committed outputs come from the native CPU kernels; `make test` reruns them on ATen's portable
# kernels (ATEN_CPU_CAPABILITY=default), so every run checks that the proofs hold on another instruction set.
# Two pytest workers (pytest-xdist): a notebook's cells, its break tests and its wrong answers stay in one worker, in
# order (conftest.py's groups); JOBS=0 runs everything in this process.
test: env data
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest -m "not rerun" $(XDIST) --durations=30

# make test + the tests marked rerun (hosted runs of 05 and 08, every solution graded): about 4 more minutes.
test-all: env data
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest $(XDIST) --durations=30

# The proof notebooks under other CPU kernels and thread counts (course_tools/portable.py; about 30-40 min).
portable: env data
	$(PY) -m course_tools.portable $(if $(CONFIGS),--configs $(CONFIGS),) $(if $(ONLY),--only $(ONLY),)

unit: env data
	$(PY) -m pytest tests -m "not slow" $(XDIST)

# Students see no instructor interface: nbgrader's lab extension (formgrader, "Create Assignment") is disabled
# through a page config on JUPYTER_CONFIG_PATH. `make lab INSTRUCTOR=1` shows it.
INSTRUCTOR ?= 0
lab: env data
	$(if $(filter 1,$(INSTRUCTOR)),,JUPYTER_CONFIG_PATH="$(CURDIR)/course_tools/jupyter_student$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}") \
	$(VENV)/bin/jupyter lab notebooks/

student: env
	$(PY) -m course_tools.student

LINT_PATHS := course_utils course_tools data_scripts tests benchmarks notebooks conftest.py

lint: env
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

format: env
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

saved: env
	$(PY) -m course_tools.save_cells

bench: env data
	$(PY) benchmarks/idx_reader_speed.py
	@echo "(GPU machines: $(PY) benchmarks/gpu_inference.py, or make gpu-check)"

clean:
	rm -rf build

# Course site and grading (INSTRUCTORS.md).
#   make site      the course as a web site -> build/site/index.html (Sphinx + myst-nb + sphinx-book-theme from
#                  the executed notebooks, no re-run; course_tools/site.py). Publish: ghp-import -n -p build/site
#   make grade SUBMISSIONS=dir [GRADES=out.csv]  run every dir/<student>/NN_x.ipynb, write a CSV of checks
.PHONY: site grade gpu-check
SUBMISSIONS ?= submissions
GRADES ?= build/grades.csv

site: env
	$(PY) -m course_tools.site

grade: env data
	$(PY) -m course_tools.grade $(SUBMISSIONS) --out $(GRADES)

# On a GPU machine: `make gpu-check PYTHON=python3` runs with that interpreter's PyTorch and installs nothing
# when it can import torch (clusters ship their own CUDA builds); otherwise it uses (and builds) .venv.
gpu-check:
	@if $(PYTHON) -c "import torch" 2>/dev/null; then py="$(PYTHON)"; else $(MAKE) --no-print-directory env >&2; py="$(PY)"; fi; \
	echo "==> gpu-check with $$py"; \
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" timeout 480 $$py -m course_tools.gpu_check --json build/gpu_check.json
