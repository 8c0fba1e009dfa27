# Every target creates the virtual environment on first use: torch==2.13.0 (local CPU wheel) first,
# then glossfree with the constraints file that keeps torch pinned (a later resolver step would
# otherwise pull several GB of CUDA wheels).
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= video,analysis,dev

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

demo: install
	$(VENV)/bin/glossfree demo

test: install
	$(VENV)/bin/python -m pytest -q

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs demo_run .pytest_cache
