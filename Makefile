# Latent Studio — two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# torch is pinned apart from the rest: a bare `torch` would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: run test lint bench install clean package package-test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev,distributed]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) main.py

lint: $(STAMP)
	$(VENV)/bin/ruff check studio tests benchmarks main.py
	$(VENV)/bin/lint-imports

# two pytest workers, a test file each at a time (its module fixtures stay together): the
# suite takes about 6 minutes on a 2-core machine instead of 13. TEST_WORKERS=0 runs it in
# one process. A worker that dies is not replaced: pytest-xdist 3.8's loadfile scheduling
# can wait forever after a replacement (pytest-xdist#784, #1378), so the run ends there,
# the dead worker's test named as failed.
TEST_WORKERS ?= 2

test: lint
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile \
		--max-worker-restart 0
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m benchmarks --smoke

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m benchmarks

# The desktop bundle (PyInstaller onedir, pinned in pyproject's `package` extra): minutes,
# so neither target is part of `make test`. Bundle in dist/latent-studio/.
BUNDLE := dist/latent-studio

package: $(STAMP)
	$(PY) -m pip install --quiet -e '.[package]'
	$(PY) packaging/appmeta.py --check
	@if command -v desktop-file-validate >/dev/null; then desktop-file-validate packaging/linux/*.desktop; \
	 else echo "note: desktop-file-validate not found (apt-get install desktop-file-utils)"; fi
	@if command -v appstreamcli >/dev/null; then appstreamcli validate --no-net packaging/linux/*.metainfo.xml; \
	 else echo "note: appstreamcli not found (apt-get install appstream)"; fi
	nice -n 10 $(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/latent-studio.spec
	@echo "bundle: $(BUNDLE) ($$(du -sh $(BUNDLE) | cut -f1))"

package-test:
	@test -x $(BUNDLE)/latent-studio || { echo "no bundle: run make package first"; exit 1; }
	@echo "bundle size: $$(du -sh $(BUNDLE) | cut -f1)"
	$(BUNDLE)/latent-studio --version
	QT_QPA_PLATFORM=offscreen $(BUNDLE)/latent-studio --self-check

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
