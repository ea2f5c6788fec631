# perfprov: the commands a user and CI type. Run as root on Debian 12 for the lab targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
LAB   ?= .lab/demo

.PHONY: all build deps test unit vet bench demo fmt clean

all: build

build:
	$(GO) build -o $(BIN)/perfprov ./cmd/perfprov
	$(GO) build -o $(BIN)/testbed ./cmd/testbed

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...

# What the tests need (chromium, the lab's tools, the real libcap and kernel sources).
deps:
	./scripts/test-deps.sh

# Every test, unit and integration (the lab of real hosts needs root). Fails on any failure.
test: deps vet
	$(GO) test -count=1 -timeout 60m ./...

# Unit tests only: no lab, no root.
unit:
	$(GO) test -count=1 -short ./...

bench: deps build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

demo: build
	./scripts/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
