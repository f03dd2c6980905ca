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

# A skipped test says why: GoogleTest's reason (the line after "FILE:LINE: Skipped") is printed after ctest's summary.
SKIP_REASONS = grep -h -A1 ': Skipped$$' Testing/Temporary/LastTest.log | grep -v -- '^--$$' | sed 's/^/  skipped: /'

test-cpp: build
	cd $(BUILD) && { ctest --output-on-failure -j $(JOBS); rc=$$?; $(SKIP_REASONS); exit $$rc; }

# --durations=15: the 15 slowest tests, to see where CI's time goes.
test-python: build
	RLHF_BUILD=$(abspath $(BUILD)) $$(cat $(VENV_FILE))/bin/python -m pytest -q -rfEs --durations=15 tests/python

# Both suites run even when the first fails, and their results are both shown; the target fails if either did.
test: build
	@cpp=0; python=0; \
	$(MAKE) --no-print-directory test-cpp || cpp=$$?; \
	$(MAKE) --no-print-directory test-python || python=$$?; \
	verdict() { if [ "$$1" = 0 ]; then echo passed; else echo "FAILED (rc $$1)"; fi; }; \
	echo "make test: ctest $$(verdict $$cpp), pytest $$(verdict $$python)"; \
	[ $$cpp = 0 ] && [ $$python = 0 ]

demo: build
	$(BUILD)/rlhf pipeline --preset demo --output_dir runs/demo

# Reliability: libFuzzer targets under ASan+UBSan, FUZZ_RUNS inputs each (torch-free, no venv needed), and the whole
# test suite (both C++ test binaries, the fuzz replays, then pytest through the sanitized CLI) under ASan+UBSan against
# the wheel's uninstrumented LibTorch (tests/fuzz/README.md). Every sanitizer report aborts (exit by SIGABRT), so an
# error that a test expects (exit 1) can never hide one; leaks are checked at exit.
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS ?= 10000
ASAN_BUILD ?= build-asan
# test_bpe_training_speed asserts a time (30 s) that the -O0 sanitized build does not meet (31 s measured): left out.
ASAN_PYTEST ?= tests/python --deselect tests/python/test_tokenizers.py::test_bpe_training_speed
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

fuzz:
	@if [ ! -f $(FUZZ_BUILD)/build.ninja ]; then \
	  cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -gline-tables-only" \
	    -DCMAKE_CXX_COMPILER=clang++ -DRLHF_FUZZ=ON \
	    -DRLHF_SKIP_SOURCES=src/world; fi  # the world reads no files: nothing in it to fuzz
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_RUNS)

test-asan: setup
	@if [ ! -f $(ASAN_BUILD)/build.ninja ]; then \
	  cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O0 -g1" \
	    -DRLHF_SANITIZE=ON -DRLHF_PYTHON=$$(cat $(VENV_FILE))/bin/python; fi
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cpp=0; python=0; \
	(cd $(ASAN_BUILD) && { $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS); rc=$$?; $(SKIP_REASONS); exit $$rc; }) || cpp=$$?; \
	$(SANITIZER_ENV) RLHF_BUILD=$(abspath $(ASAN_BUILD)) $$(cat $(VENV_FILE))/bin/python -m pytest -q -rfEs --durations=15 \
	  $(ASAN_PYTEST) || python=$$?; \
	verdict() { if [ "$$1" = 0 ]; then echo passed; else echo "FAILED (rc $$1)"; fi; }; \
	echo "make test-asan: ctest $$(verdict $$cpp), pytest $$(verdict $$python)"; \
	[ $$cpp = 0 ] && [ $$python = 0 ]

clean:
	rm -rf $(BUILD)
