# make test: every test, the real-Kafka suite included. See README.md.
#
#   1. tools      kcat, promtool, xmlsec1 and OpenSSL's ГОСТ engine (the implementations
#                 our ГОСТ signatures and XML canonicalization must agree with),
#                 installed with apt-get when missing and we are root
#   2. fmt, vet   gofmt and go vet
#   3. unit       the whole suite on the in-process kfake broker, with the race detector
#   4. kafka      the whole suite again on a real Apache Kafka broker (kafka-local
#                 fetches it through Maven), one package at a time so that the fault
#                 tests' three-node cluster does not share 2 cores with other suites;
#                 this pass includes the short version of the reliability suite
#
# Under CI (CI=true) a missing tool or a missing Java/Maven fails the run
# instead of skipping tests.
SHELL := /bin/bash
GO ?= go
TOOLS := kcat promtool xmlsec1
APT_PACKAGES := kcat prometheus xmlsec1 libengine-gost-openssl

.PHONY: test tools fmt-check vet unit kafka test-reliability docs bench bench-remd

test: tools fmt-check vet unit kafka

# The ГОСТ engine is a library, not a command: `openssl engine gost` says
# whether OpenSSL can load it.
tools:
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	openssl engine gost >/dev/null 2>&1 || missing="$$missing openssl-gost-engine"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing $(APT_PACKAGES) (missing:$$missing)"; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES) >/dev/null || exit 1; \
	else \
		echo "make: missing:$$missing. Run: sudo apt-get install -y $(APT_PACKAGES)"; \
		if [ "$$CI" = true ]; then echo "make: CI=true, so this fails the run"; exit 1; fi; \
		echo "make: tests that need them are skipped"; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

kafka:
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
		echo "!!! Java or Maven is missing: the real-Kafka suite did NOT run."; \
		echo "!!! Run: sudo apt-get install -y openjdk-17-jre-headless maven"; \
		if [ "$$CI" = true ]; then echo "!!! CI=true, so this fails the run"; exit 1; fi; \
		exit 0; \
	fi; \
	set -o pipefail; $(GO) run ./cmd/kafka-local exec --nodes 1 -- $(GO) test -p 1 -count=1 -timeout 25m -v ./... 2>&1 \
		| grep -vE '^(=== (RUN|PAUSE|CONT|NAME)|\s*$$)'

# The reliability suite at full length (internal/reliability), RELIABILITY_RUNS
# times in a row (3 by default, 20 to 30 minutes each on 2 cores): two gateway
# processes on a three-node cluster, SIGKILLs, broker and controller kills,
# registry outages, slowness and 429 storms, poison input. It prints a table
# per scenario and run. EGISZ_RELIABILITY_SEED=<n> repeats a run's moments.
RELIABILITY_RUNS ?= 3
test-reliability:
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
		echo "!!! Java or Maven is missing. Run: sudo apt-get install -y openjdk-17-jre-headless maven"; exit 1; \
	fi
	set -o pipefail; $(GO) run ./cmd/kafka-local exec --nodes 0 -- env EGISZ_RELIABILITY=full \
		$(GO) test -count=$(RELIABILITY_RUNS) -timeout 6h -v ./internal/reliability/ 2>&1 \
		| grep --line-buffered -vE '^(=== (RUN|PAUSE|CONT|NAME)|\s*$$)'


# Regenerate the AsyncAPI document and the JSON Schemas from the catalog, and
# publish the examples with the test PKI and the example document's CDA and
# signatures (internal/testpki; its tests say how to make them again).
docs:
	rm -rf docs/schemas
	$(GO) run ./cmd/egisz-gateway topics schemas docs/schemas > /dev/null
	$(GO) run ./cmd/egisz-gateway topics asyncapi > docs/asyncapi.yaml
	rm -rf docs/examples && mkdir -p docs/examples/testpki && cp topics/examples/*.json docs/examples/
	cp internal/testpki/files/* docs/examples/testpki/
	cp internal/testpki/examples/* docs/examples/

# Measure the gateway against a real broker and write docs/BENCHMARKS.md
# (about 10 minutes on 2 cores, and the remd scenario's: 10,000 documents
# normalized alone and forwarded, some 5 minutes at the 35 registrations a
# second of its first runs). BENCH_FLAGS passes flags to cmd/bench. The remd
# scenario also runs on 557fb68, the last commit with РЭМД's JSON protocol,
# in a temporary git worktree (--baseline; needs the full history).
bench:
	$(GO) run ./cmd/kafka-local exec --nodes 1 -- $(GO) run ./cmd/bench $(BENCH_FLAGS)

# The remd scenario alone, beside 557fb68, its report on standard output.
bench-remd:
	$(GO) run ./cmd/kafka-local exec --nodes 1 -- $(GO) run ./cmd/bench --only remd $(BENCH_FLAGS)
