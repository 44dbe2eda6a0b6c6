# breastgate — the two set-up commands are `make run` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Debian packages of the test peers (reference/tools.md): dcmtk, Orthanc, dicom3tools, PixelMed + a JRE.
PEER_DEBS := dcmtk orthanc orthanc-dicomweb dicom3tools pixelmed-apps default-jre-headless
# Debian libraries WeasyPrint needs to render patient letters to PDF (Pango, HarfBuzz subsetting, a font),
# and Tesseract with its English model to read the burned-in text of ultrasound frames (imaging.us_ocr).
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core tesseract-ocr tesseract-ocr-eng

.PHONY: run test install install-test system-libs peers browser ui screenshots lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

## Install the Debian libraries the gateway itself uses when any is missing (needs root, as on CI).
system-libs:
	@missing=""; \
	for pkg in $(RUNTIME_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system libraries:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

install: system-libs $(VENV)/.installed

install-test: system-libs $(VENV)/.installed-test

## Install the Debian test peers when any is missing (needs root, as on CI).
peers:
	@missing=0; \
	for cmd in storescu dsrdump dciodvfy Orthanc java; do command -v $$cmd >/dev/null || missing=1; done; \
	test -f /usr/share/java/pixelmed.jar || missing=1; \
	if [ $$missing = 1 ]; then \
	  echo "installing test peers: $(PEER_DEBS)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(PEER_DEBS); \
	fi

## The OpenID Provider the SSO tests start (npm, pinned by its lock); Debian's nodejs and npm when npm
## is missing (needs root, as on CI).
OIDC_PROVIDER := tests/support/oidc/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/support/oidc/package.json tests/support/oidc/package-lock.json
	command -v npm >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; }
	npm ci --prefix tests/support/oidc --no-audit --no-fund
	touch $@

## Debian's chromium for the browser tests (Playwright drives it; no browser download), when missing
## (needs root, as on CI).
browser:
	@command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

## Rebuild the pages' bundle (src/breastgate/web/ui/static, committed) from frontend/ with npm + vite;
## Debian's nodejs and npm when npm is missing. tests/unit/test_ui_bundle.py fails until it is rebuilt.
ui:
	command -v npm >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; }
	npm ci --prefix frontend --no-audit --no-fund
	npm run --prefix frontend build

## The README's screenshots (docs/screenshots), taken by the browser tests.
screenshots: install-test peers browser
	UI_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e/test_web_ui.py -q

## Install, migrate and start the gateway on embedded defaults.
run: install
	$(BIN)/breastgate db upgrade
	exec $(BIN)/breastgate serve

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-test
	$(BIN)/mypy

## Install what the tests need (Python deps, test peers), then lint, type check and run the whole suite.
test: install-test peers browser $(OIDC_PROVIDER) lint typecheck
	$(BIN)/pytest -n auto --dist loadfile --durations=30

bench: install-test peers
	$(BIN)/python bench/worklist_page.py --studies 10000
	$(BIN)/python bench/density_accuracy.py --count 200 --seed 1000 --workers 2
	$(BIN)/python bench/density_accuracy.py --generator alt --count 100 --seed 1000 --workers 2
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/hl7_throughput.py
	$(BIN)/python bench/sectra_bench.py --requests 1000
	$(BIN)/python bench/dicomweb_frames.py --rounds 3
	$(BIN)/python bench/findings_froc.py --count 300 --seed 5000 --workers 2
	$(BIN)/python bench/algorithm_speed.py --count 20 --seed 9000 --workers 2
	$(BIN)/python bench/positioning_agreement.py --count 200 --seed 6000 --workers 2
	$(BIN)/python bench/dbt_froc.py --count 60 --seed 8000 --workers 2
	$(BIN)/python bench/dbt_froc.py --speed
	$(BIN)/python bench/e2e_latency.py --count 20
	OMP_THREAD_LIMIT=1 $(BIN)/python bench/us_ocr.py --count 200 --seed 8000
	OMP_THREAD_LIMIT=1 $(BIN)/python bench/us_phantoms.py --count 60 --seed 6000 --workers 2
	OMP_THREAD_LIMIT=1 $(BIN)/python bench/us_phantoms.py --speed
	$(BIN)/python bench/correlation_links.py --women 200 --seed 0
	OMP_NUM_THREADS=1 $(BIN)/python bench/correlation_phantoms.py --women 100 --seed 0 --workers 2

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tests/support/oidc/node_modules frontend/node_modules
