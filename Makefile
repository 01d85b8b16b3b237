# densevm: thin wrapper over CMake. `make run` runs a demo, `make test` runs every test
# (release build, then the sanitizer build of the parts that read guest input).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test test-release test-asan test-numa test-plan build-types bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@bash scripts/demo.sh $(BUILD)

test: test-release test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600 -LE qemu-linux

# ASan + UBSan over the code that reads guest input: unit, differential and fuzz tests.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DDENSEVM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS) --target densevm_unit_tests densevm_diff_tests densevm_fuzz_flat_vm densevm_fuzz_paging_vm \
	  densevm_fuzz_translator densevm_fuzz_snapshot densevm_fuzz_balloon densevm_fuzz_images
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900 -L 'unit|diff|fuzz'

# NUMA placement on real multi-node machines: densevm inside QEMU (TCG) machines of 2 and 4
# nodes booting Debian's kernel (tests/numa/run.sh; about 4 minutes on 2 cores).
test-numa: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target densevm
	@bash tests/numa/run.sh $(BUILD)

# The planner on four QEMU guests of Debian's kernel, dumped over QMP and planned
# (tests/qemu_linux_plan_test.sh; a few minutes on 2 cores).
test-plan: build
	cd $(BUILD) && ctest --output-on-failure --timeout 1200 -L qemu-linux

# Every other CMake build type compiles too (RelWithDebInfo and the sanitizer build are made
# by `make test`): Release is what packagers build, and -O3 finds warnings -O2 does not.
build-types: deps
	@for type in Debug Release; do \
	  dir=build-$$(echo $$type | tr A-Z a-z); \
	  cmake -S . -B $$dir -DCMAKE_BUILD_TYPE=$$type >/dev/null && \
	  cmake --build $$dir -j$(JOBS) >/dev/null || { echo "build-types: $$type does not build" >&2; exit 1; }; \
	  echo "build-types: $$type builds"; \
	done

# Coverage-guided fuzzing (clang, libFuzzer, ASan+UBSan) of every tests/fuzz target (the vCPU,
# the MMU, the translator, snapshot files, the balloon's virtqueues, the planner's image
# readers; FUZZ_TARGETS="snapshot balloon" picks) for FUZZ_SECONDS each, from the corpus in
# tests/fuzz/corpus; then the ring-3 instruction count with the release build's driver. See
# tests/fuzz/README.md.
fuzz: build
	@bash scripts/fuzz.sh $(BUILD) $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@cmake --build $(BUILD) -j$(JOBS) --target benchmarks
	@bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-debug build-release
