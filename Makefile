# Two entry points for a newcomer: `make demo` and `make test`. Both (re)build .venv first.
PYTHON ?= python3
VENV ?= .venv
# Installed first, and only when the venv cannot import torch already (override for other platforms,
# e.g. TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu").
TORCH ?= torch==2.13.0
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=
BIN := $(VENV)/bin

.PHONY: venv models demo test clean

venv: $(VENV)/.installed models

# The people masker's model files, into the user's cache (checked, kept when already there). Offline,
# the masker fetches them on first use instead, or says which command to run.
models: $(VENV)/.installed
	@$(BIN)/occlurestyle -q models fetch || echo "warning: could not fetch the people masker's models now; run '$(BIN)/occlurestyle models fetch' when online"

$(VENV)/.installed: pyproject.toml scripts/install-system-deps.sh
	@scripts/install-system-deps.sh
	@if [ ! -x $(BIN)/python ]; then \
	  if $(PYTHON) -c 'import torch' 2>/dev/null; then \
	    echo "reusing the torch already installed for $(PYTHON)"; \
	    $(PYTHON) -m venv --system-site-packages $(VENV); \
	  else $(PYTHON) -m venv $(VENV); fi; \
	fi
	@$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/pip install $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: venv
	$(BIN)/occlurestyle demo --out $(DEMO_OUT)

test: venv
	@scripts/install-system-deps.sh --test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache
