# The two commands the README starts with:
#   make run   - installs what is missing, starts a private Redis and the gate, prints the waiting page URL
#   make test  - installs what is missing and runs every test (each suite starts its own redis-server)

SWIFT ?= swift

.PHONY: lottery-check prescale-check test test-release release-tests-build browser-test run build release deps bench-redis bench-stall bench-http bench-drop smoke-drop topology-check fuzz idle-connections clean

run:
	@scripts/run-dev.sh

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	# One test at a time: several tests measure rates against the clock, and a 2-core machine running
	# a 2,000-shopper test beside them would starve their tickers.
	$(SWIFT) test --skip-build --no-parallel

# The release build (what ships) with its tests, in its own build folder so it can run beside the debug one.
# Tests see the modules exactly as shipped: the few that reach into internals (`@testable`) are debug-only.
RELEASE_BUILD = $(SWIFT) build -c release --scratch-path .build-release
release-tests-build: deps
	$(RELEASE_BUILD) --build-tests

# The suites where the release build once behaved differently from the debug one (issue 19: a Cluster crash
# at start-up), on the release build: the Redis client and its topologies, failover, TLS, the group commit.
RELEASE_SUITES = RedisClientTests|RedisResilienceTests|RedisTLSTests|RedisTopologyTests|JoinCommitterTests|GateClusterTests|GateFailoverTests|GateRedisTransportTests
test-release: release-tests-build
	$(SWIFT) test -c release --scratch-path .build-release --skip-build --disable-testable-imports --no-parallel --filter '$(RELEASE_SUITES)'

# The shopper's journeys and the ops dashboard in headless Chromium (Debian's chromium, Playwright for Python,
# axe-core): desktop and phone sizes; screenshots in .build/browser/.
browser-test:
	WITH_BROWSER=1 scripts/install-deps.sh
	$(SWIFT) build --product waitroom
	python3 Tests/Browser/journeys.py --bin "$$($(SWIFT) build --show-bin-path)"

# A few thousand shoppers through two gates and the example order service, on the release build, with a busy
# loop on every core for the drop's first 15 s: errors are allowed while it runs, none from 10 s after it, and
# every shopper must join (HOG_SECONDS=0 for a quiet run). CI's smoke test.
smoke-drop: deps
	WAITROOM_SCRATCH_PATH=$${WAITROOM_SCRATCH_PATH-.build-release} BUILD=$${BUILD:-release} HOG_SECONDS=$${HOG_SECONDS-15} \
		SHOPPERS=3000 RATE=150 ARRIVALS=spike:0.8:10:10 CLAIM_WINDOW=10 OUT=.build/smoke-drop scripts/bench-drop.sh --check

# `make run` and `bench drop` on Sentinel (redis-sentinel://) and Cluster (redis-cluster://) Redis on loopback.
topology-check: deps
	WAITROOM_SCRATCH_PATH=$${WAITROOM_SCRATCH_PATH-.build-release} scripts/topology-check.sh

# The full drop: 100,000 shoppers, 80% in the first minute, 20% abandoning (release build).
bench-drop: deps
	scripts/bench-drop.sh

bench-http: deps
	scripts/bench-http.sh

# The Redis client: one at a time vs 64 concurrent callers, plain TCP and TLS.
bench-redis: release
	scripts/bench-redis.sh

# A stalled Redis (SIGSTOP) under a release gate: time for a join to get its 503, and to recover after SIGCONT.
bench-stall: deps
	scripts/bench-stall.sh

# libFuzzer on the ticket, JWT and settings parsers. FUZZ_SECONDS=600 make fuzz for longer; FUZZ_RUNS=N for
# a repeatable run (N executions per target from a fixed seed, as CI does).
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# 10,000 idle connections to one gate, then a descriptor-starved flood (issue 12's connection check).
idle-connections: deps
	scripts/idle-connections.sh

# The pre-queue lottery's second implementation (Python, standard library) against the README's test vectors.
lottery-check:
	python3 scripts/lottery/lottery.py --check-vectors

# The example pre-scale receiver: a signed sample hook accepted and turned into scale commands, forgeries refused.
prescale-check:
	python3 scripts/prescale/test_receiver.py

clean:
	rm -rf .build .run
