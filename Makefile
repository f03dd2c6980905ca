# The two commands of the README: `make demo` and `make test`. Both set up (idempotent), build, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
VENV_FILE := $(BUILD)/.venv-path

.PHONY: all setup build test test-cpp test-python demo clean fuzz test-asan

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

# Reliability (torch-free, no venv needed): libFuzzer targets under ASan+UBSan, FUZZ_RUNS inputs each
# (tests/fuzz/README.md), and the torch-free tests plus the fuzz replays under ASan+UBSan.
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS ?= 10000
ASAN_BUILD ?= build-asan
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

fuzz:
	@if [ ! -f $(FUZZ_BUILD)/build.ninja ]; then \
	  cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -gline-tables-only" \
	    -DCMAKE_CXX_COMPILER=clang++ -DRLHF_FUZZ=ON \
	    -DRLHF_SKIP_SOURCES=src/world; fi  # the world reads no files: nothing in it to fuzz
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_RUNS)

test-asan:
	@if [ ! -f $(ASAN_BUILD)/build.ninja ]; then \
	  cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" \
	    -DRLHF_SANITIZE=ON -DRLHF_TORCH=OFF; fi
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)
