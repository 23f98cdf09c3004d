# The two set-up commands (README): `make demo` and `make test`.
# Everything else here is a convenience around CMake presets.
JOBS ?= $(shell nproc)
BUILD := build/release

.PHONY: demo test build deps models asan fuzz format references clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

models:
	@scripts/get-models.sh

# The default model is Gemma 3 270M (the base model: it continues text).
DEMO_PROMPT ?= The three most important inventions of the twentieth century are
demo: build models
	$(BUILD)/slim run -m models/gemma-3-270m-Q4_K_M.gguf -p "$(DEMO_PROMPT)" -n 96 --temp 0.7 --seed 42

test: build models
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 900

asan: deps models
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	cd build/asan && ctest -j $(JOBS) --output-on-failure --timeout 1800

# Runs each fuzz target for FUZZ_SECONDS (default 600) on its committed corpus.
FUZZ_SECONDS ?= 600
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

# Re-runs the test-only Python that writes tests/reference/ (needs PyPI packages).
references:
	tools/reference/make-all.sh

clean:
	rm -rf build
