# make test: every test, the real-Kafka suite included. See README.md.
SHELL := /bin/bash
GO ?= go

.PHONY: test unit docs fmt-check vet

test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The whole suite on the in-process kfake broker, with the race detector.
unit:
	$(GO) test -race -count=1 ./...

# Regenerate the AsyncAPI document and the JSON Schemas from the catalog.
docs:
	rm -rf docs/schemas
	$(GO) run ./cmd/egisz-gateway topics schemas docs/schemas > /dev/null
	$(GO) run ./cmd/egisz-gateway topics asyncapi > docs/asyncapi.yaml
