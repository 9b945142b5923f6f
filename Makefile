# The two commands the README starts with:
#   make run   - installs what is missing, starts a private Redis and the gate, prints the waiting page URL
#   make test  - installs what is missing and runs every test (each suite starts its own redis-server)

SWIFT ?= swift

.PHONY: test run build release deps bench-redis clean

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
	$(SWIFT) test --skip-build

bench-redis: release
	scripts/with-redis.sh .build/release/waitroom bench redis

clean:
	rm -rf .build .run
