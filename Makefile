# imagegate: the two commands of the README, and the steps they are made of.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 10s

.PHONY: demo test deps lint unit race fuzz soak soak-smoke e2e bench build

## demo: the proxy in front of an in-memory Glance v2 API, with sample tokens
demo:
	$(GO) run ./cmd/imagegate demo

## test: everything CI runs (installs what the tests need first)
test: deps lint unit race fuzz soak-smoke

## deps: Debian packages the tests use (glance-api for the end-to-end suite, prometheus for promtool)
deps:
	./tests/install-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## unit: unit, Rego, integration and end-to-end tests (the e2e suite starts a real Glance)
unit:
	$(GO) test -count=1 -timeout 20m ./...

## race: the concurrent parts again under the race detector
race:
	$(GO) test -count=1 -race -timeout 10m ./audit/ ./authn/ ./enrich/ ./proxy/ ./route/

## fuzz: every fuzz target for a bounded time, seed corpora included
fuzz:
	./tests/fuzz.sh $(FUZZTIME)

## soak: the real binary under wrk with many tenants for SOAKTIME (default 10m), then
## checks no 5xx, no goroutine or memory growth, a decision event for every request
SOAKTIME ?= 10m
soak:
	./tests/soak.sh $(SOAKTIME)

## soak-smoke: the soak for 20 seconds (part of test)
soak-smoke:
	./tests/soak.sh 20s 200 16

## bench: micro-benchmarks (numbers for docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./authn/ ./policies/ ./policy/ ./proxy/ ./route/

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/imagegate ./cmd/imagegate

## bench-load: the load benchmark harness of docs/benchmarks.md, ~30 minutes (not part of
## test); BENCH_ARGS=--quick for ~2 minutes, BENCH_ARGS=--profile for profiles
.PHONY: bench-load
bench-load:
	./bench/run.sh $(BENCH_ARGS)
