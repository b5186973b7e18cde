# Flin: the two commands a new machine needs are `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
PYTHON     ?= /usr/bin/python3
SEEDS      ?= 1000

.PHONY: all deps build asan run test unit-test asan-test blackbox-test smoke-test clean sim

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release

build: deps
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@[ -f $(ASAN_BUILD)/CMakeCache.txt ] || cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DFLIN_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Starts a single node on 127.0.0.1:6380 with its data in ./flin-data.
run: build
	./$(BUILD)/flin-server --bind 127.0.0.1 --port 6380 --dir ./flin-data

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan-test: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Black-box tests: the real binary, driven by redis-cli and redis-py.
blackbox-test: build
	FLIN_SERVER=$(abspath $(BUILD))/flin-server $(PYTHON) -m pytest -q -x tests

# The benchmark scripts, a few seconds each, so that they do not rot.
smoke-test: build
	DURATION=1 BUILD=$(BUILD) scripts/test-single-node.sh
	DURATION=1 PAUSE=0 BUILD=$(BUILD) scripts/test-read-write.sh
	BUILD=$(BUILD) scripts/bench-vs-redis.sh --smoke
	KEYS=20000 DURATION=1 BUILD=$(BUILD) scripts/bench-memory.sh
	ROUNDS=1 DURATION=0.2 KEYSPACE=2000 BUILD=$(BUILD) scripts/bench-ab.sh get=1 set=1
	SIZES=100 ROUNDS=1 REQUESTS=2000 BUILD=$(BUILD) scripts/bench-collections.sh
	@if [ -x scripts/test-3-node-local.sh ]; then DURATION=2 BUILD=$(BUILD) scripts/test-3-node-local.sh; fi

test: unit-test asan-test blackbox-test smoke-test

# Deterministic Raft simulation over many seeds: make sim SEEDS=10000
sim: build
	./$(BUILD)/raft_sim --seeds $(SEEDS)
	./$(BUILD)/raft_sim --seeds $(SEEDS) --settle 3000 --no-membership --restore-share 0.3

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Jepsen-style campaign (tests/jepsen): each nemesis for JEPSEN_SECONDS, the bank
# workload under each for JEPSEN_BANK_SECONDS (default half of JEPSEN_SECONDS), then
# JEPSEN_ROUNDS durability rounds, then the disk and timer nemeses (a full disk
# on a tmpfs, a leader's Raft thread frozen with ptrace); anomalies fail the
# target.  CI runs the short ones (test_campaign.py and the same two files).
JEPSEN_SECONDS ?= 60
JEPSEN_ROUNDS  ?= 5
.PHONY: jepsen
jepsen: build
	FLIN_SERVER=$(abspath $(BUILD))/flin-server JEPSEN_SECONDS=$(JEPSEN_SECONDS) \
	  JEPSEN_ROUNDS=$(JEPSEN_ROUNDS) $(PYTHON) tests/jepsen/campaign.py --out $(BUILD)/jepsen-report.jsonl
	FLIN_SERVER=$(abspath $(BUILD))/flin-server $(PYTHON) -m pytest -q -rs \
	  tests/jepsen/test_disk_full.py tests/jepsen/test_timer.py

# libFuzzer targets (clang), one at a time, each until its coverage plateaus; see
# docs/RELIABILITY.md, "Fuzzing". MERGE=1 then minimizes the grown corpora into the repo.
FUZZ_BUILD   ?= build-fuzz
FUZZ_TARGETS ?= $(notdir $(basename $(wildcard src/*/*_fuzz.cc)))
.PHONY: fuzz
fuzz:
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || cmake -S . -B $(FUZZ_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFLIN_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh $(FUZZ_TARGETS)
