# The two commands of the README: `make demo` and `make test`. Both set up (idempotent), build, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
VENV_FILE := $(BUILD)/.venv-path

.PHONY: all setup build test test-cpp test-python demo clean

all: build

setup:
	@mkdir -p $(BUILD)
	@bash scripts/setup.sh > $(VENV_FILE).tmp && mv $(VENV_FILE).tmp $(VENV_FILE)

build: setup
	@venv=$$(cat $(VENV_FILE)); \
	if [ ! -f $(BUILD)/build.ninja ]; then \
	  cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DRLHF_PYTHON=$$venv/bin/python; fi
	cmake --build $(BUILD) -j $(JOBS)

test-cpp: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-python: build
	RLHF_BUILD=$(abspath $(BUILD)) $$(cat $(VENV_FILE))/bin/python -m pytest -q tests/python

test: build
	@$(MAKE) --no-print-directory test-cpp
	@$(MAKE) --no-print-directory test-python

demo: build
	$(BUILD)/rlhf pipeline --preset demo --output_dir runs/demo

clean:
	rm -rf $(BUILD)
