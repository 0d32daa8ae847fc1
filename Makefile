# ProxyStore-C: thin wrapper over CMake/CTest.
#
#   make              build everything into build/ (programs in build/bin/)
#   make demo         install deps, build, run the demo on the default file store
#   make check        install deps, build with ASan+UBSan, run the test suite
#   make check-tsan   build with ThreadSanitizer, run the threaded tests
#   make check-large  run the >2 GiB tests (not part of check)
#   make bench        optimized build, run the benchmarks (QUICK=1 for a short run)
#   make install      install into PREFIX (default /usr/local)
#   make format       clang-format every C file; make format-check verifies

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
WERROR ?= $(if $(CI),ON,OFF)
CTEST_FLAGS ?= --output-on-failure --no-tests=error -j$(JOBS)

.PHONY: all build deps demo check check-tsan check-large check-valgrind bench install \
        format format-check clean

all: build

deps:
	@bash scripts/install-deps

build/CMakeCache.txt:
	$(CMAKE) -S . -B build $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPS_WERROR=$(WERROR) \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: build/CMakeCache.txt
	$(CMAKE) --build build -j$(JOBS)

build-asan/CMakeCache.txt:
	$(CMAKE) -S . -B build-asan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DPS_SANITIZE=address \
	  -DPS_WERROR=$(WERROR)

build-tsan/CMakeCache.txt:
	$(CMAKE) -S . -B build-tsan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DPS_SANITIZE=thread \
	  -DPS_WERROR=$(WERROR)

# The demo needs only the library, the CLI and the demo programs.
demo: deps build/CMakeCache.txt
	$(CMAKE) --build build -j$(JOBS) --target proxystore_cli demo_producer demo_consumer
	@bash scripts/demo.sh build/bin

check: deps build-asan/CMakeCache.txt
	$(CMAKE) -S . -B build-asan -DPS_WERROR=$(WERROR)
	$(CMAKE) --build build-asan -j$(JOBS)
	cd build-asan && ctest $(CTEST_FLAGS) -LE 'large|tsan-only' 2>&1

check-tsan: deps build-tsan/CMakeCache.txt
	$(CMAKE) -S . -B build-tsan -DPS_WERROR=$(WERROR)
	$(CMAKE) --build build-tsan -j$(JOBS)
	cd build-tsan && ctest $(CTEST_FLAGS) -L threads 2>&1

check-large: deps build
	cd build && ctest $(CTEST_FLAGS) -L large 2>&1

check-valgrind: deps build
	$(CMAKE) --build build -j$(JOBS)
	bash scripts/valgrind-check.sh build

bench: deps build
	@bash scripts/bench.sh build $(if $(QUICK),--quick,)

install: build
	$(CMAKE) --install build --prefix $(PREFIX)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf build build-asan build-tsan
