# Two commands do all the set-up on a fresh machine: `make book` and `make test`.
# Both create .venv on first use (Python 3.11 + torch==2.13.0, the CPU wheel these machines carry).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Running as root (containers, CI) needs Jupyter's explicit permission.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: book pdf test lab bench gpu-check sync check clean distclean browser

book: $(STAMP)  ## execute every chapter (full configuration) and build _build/html; CHAPTER=name runs one, JOBS=n at once
	$(PY) -m booktools build $(if $(CHAPTER),--only $(CHAPTER)) $(if $(JOBS),--jobs $(JOBS))

pdf: $(STAMP) browser  ## the whole book as one PDF (_build/book.pdf), printed by headless Chromium
	test -f _build/html/notebooks/intro.html || $(PY) -m booktools build
	$(PY) -m booktools pdf

test: $(STAMP) browser  ## everything CI checks
	$(PY) -m pytest

lab: $(STAMP)  ## JupyterLab on the notebooks (.py and .ipynb both open as notebooks)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.default_url=/lab/tree/notebooks

bench: $(STAMP)  ## speed benchmarks, printing ratios against their baselines
	$(PY) -m benchmarks

# On a machine whose Python already has a CUDA build of torch, skip the environment:
# `make gpu-check GPU_PY=python3`.
GPU_PY ?= $(PY)
gpu-check: $(if $(filter $(PY),$(GPU_PY)),$(STAMP))  ## on a CUDA machine: every CUDA test, then GPU-vs-CPU timings
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PY) -m benchmarks.gpu_check

sync: $(STAMP)  ## re-pair the chapters after an edit (the side edited since the last sync wins; both edited: refused)
	$(PY) -m booktools sync

check: $(STAMP)  ## validate book.toml, the notebook files and their pairing
	$(PY) -m booktools check

clean:  ## remove built pages, generated config, fetched assets and caches
	rm -rf _build .pytest_cache .jupyter_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean  ## also remove the environment
	rm -rf $(VENV)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[book,test,bench]'
	# Named as in the notebooks' metadata, so that running a chapter does not rewrite its files.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3"
	# .py chapters open as notebooks; running one changes no tracked file (booktools/lab.py).
	$(PY) -m booktools.lab
	touch $@

# CI must run the browser checks, so there Chromium is installed when missing. Elsewhere the
# browser tests skip, saying so, when no Chromium is found, and `make pdf` says how to install it.
# The CJK font draws the articles' Chinese titles (pages, screenshots and the PDF).
browser:
	@if [ -n "$$CI" ] && ! command -v chromium >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
