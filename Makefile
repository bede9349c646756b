# A thin driver over CMake; the build itself is in CMakeLists.txt.
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
# Python libraries come from Debian (python3-matplotlib), which only the
# system interpreter sees: not whatever python3 is first on PATH.
PYTHON     ?= /usr/bin/python3
PROFILE    ?= quick
RUN        ?= results/latest
CTEST_ARGS ?=

.PHONY: all deps build test bench plots microbench demo profile test-asan test-tsan format clean

all: build

# Everything the reference run used, the peers included (nginx-light,
# nodejs when no node is on PATH, wrk): a fresh clone's `make bench` then
# has the same rows as the README's table.
deps:
	scripts/install-deps.sh

# Installs what the build needs first (a no-op when everything is there);
# the peers are `make deps`'s.
$(BUILD)/CMakeCache.txt:
	@scripts/install-deps.sh --no-peers
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure $(CTEST_ARGS)

bench: build
	$(PYTHON) scripts/bench.py --profile $(PROFILE) --build $(BUILD) $(BENCH_ARGS)

plots:
	$(PYTHON) scripts/bench.py --plots-only $(RUN)

# One point's CPU flame graph, on its own (scripts/profile.py --help):
#   make profile MODEL=epoll SCENARIO=hello CONNECTIONS=1000
MODEL       ?= epoll
SCENARIO    ?= hello
CONNECTIONS ?= 1000
profile: build
	$(PYTHON) scripts/profile.py --build $(BUILD) --model $(MODEL) --scenario $(SCENARIO) \
	  --connections $(CONNECTIONS) $(PROFILE_ARGS)

microbench: build
	$(PYTHON) scripts/microbench.py --build $(BUILD)

demo: build
	$(PYTHON) scripts/demo.py --build $(BUILD)

# Sanitizer builds, each in a folder of its own.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=RelWithDebInfo \
	  CMAKE_EXTRA=-DIOMODELS_SANITIZE=address,undefined
test-tsan:
	$(MAKE) test BUILD=build-tsan BUILD_TYPE=RelWithDebInfo \
	  CMAKE_EXTRA=-DIOMODELS_SANITIZE=thread

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan
