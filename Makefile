# minigpt-course: set-up and the jobs that use it. On a fresh machine two commands do everything:
#   make book    install into .venv, then build the executed book into _build/html
#   make test    install into .venv, then run ruff and the test suite (what CI runs)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Without an NVIDIA GPU, torch comes from PyTorch's CPU index: a plain `pip install torch`
# would pull several GB of CUDA libraries that a CPU cannot use.
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# A nanoGPT checkout for benchmarks/versus_nanogpt.py (make benchmarks NANOGPT=../nanoGPT).
NANOGPT ?=
# A local copy of Tiny Shakespeare beside the checkout saves the download (CI has one).
ifneq ($(wildcard ../shared/data/tinyshakespeare.txt),)
export MINIGPT_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: install sandbox-tool sandbox-apparmor book demo test notebooks exercises benchmarks gpu-check clean

install: $(VENV)/.installed sandbox-tool

# Grading runs student code inside bubblewrap. As root with apt-get (CI, a grading server) it is
# installed here; anywhere else the set-up says how to get it, and grading refuses to run without.
sandbox-tool:
	@if ! command -v bwrap >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing bubblewrap, the sandbox that grading runs student code in"; \
			apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
				|| (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null); \
		else \
			echo "NOTE: grading needs bubblewrap: sudo apt-get install bubblewrap (Debian, Ubuntu)"; \
			echo "      or sudo dnf install bubblewrap (Fedora). The book and the package work without it."; \
		fi; \
	fi
	@if command -v bwrap >/dev/null 2>&1; then $(APPARMOR) --quiet || true; fi

# Ubuntu 24.04+ (and GitHub's runners): AppArmor lets bubblewrap create user namespaces only with
# a profile. As root this installs and loads one where, and only where, it is needed (for the
# user who ran sudo, else for nobody); as anyone else it says what to run. CI runs it with sudo:
# it fails when the sandbox still cannot work. The system's python3 runs it (stdlib only).
APPARMOR = $(PYTHON) minigpt/grading/apparmor.py $(if $(filter 0,$(shell id -u)),--apply)
sandbox-apparmor:
	@$(APPARMOR)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@if ! $(BIN)/python -c "import torch" 2>/dev/null && ! nvidia-smi -L >/dev/null 2>&1; then \
		echo "No NVIDIA GPU: installing the CPU build of torch $(TORCH_VERSION)"; \
		$(BIN)/python -m pip install --quiet --timeout 15 --retries 1 \
			--index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_VERSION)"; \
	fi
	$(BIN)/python -m pip install --quiet -e ".[book,grading,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# tools/build_book.py: a failed page fails the build and is executed again next time, its
# traceback stays out of the site (in _build/reports/), every kernel runs one torch thread, and
# the notebooks run BOOK_JOBS at a time (default: one per core).
BOOK_JOBS ?=
book: install
	$(BIN)/python tools/build_book.py $(if $(BOOK_JOBS),--jobs $(BOOK_JOBS))
	@echo "The book is in _build/html/index.html"

demo: install
	$(BIN)/minigpt train --preset cpu-small

test: install
	$(BIN)/ruff check .
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

notebooks: install
	$(BIN)/python tools/course.py notebooks

exercises: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python tools/course.py all

benchmarks: install
	$(BIN)/python benchmarks/train_preset.py --preset cpu-small
	$(BIN)/python benchmarks/train_preset.py --preset cpu-capstone
	$(BIN)/python benchmarks/generation_kv_cache.py
	$(BIN)/python benchmarks/versus_nanogpt.py $(if $(NANOGPT),--nanogpt $(NANOGPT) --quality)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/grading_speed.py
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/book_build.py

# Everything a GPU session should run, in one command (quick mode on a machine without CUDA).
gpu-check: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/gpu_check.py $(if $(NANOGPT),--nanogpt $(NANOGPT))

clean:
	rm -rf _build .pytest_cache
