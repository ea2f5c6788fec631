# perfprov: the commands a user and CI type. Run as root on Debian 12 for the lab targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
LAB   ?= .lab/demo

.PHONY: all build deps test unit vet bench bench-wan bench-scale fuzz demo fmt clean dist

all: build

# -buildvcs=auto: stamp the VCS revision (perfprov version) in a git clone, even where GOFLAGS turns
# stamping off; nothing, and no error, elsewhere.
build:
	$(GO) build -buildvcs=auto -o $(BIN)/perfprov ./cmd/perfprov
	$(GO) build -o $(BIN)/testbed ./cmd/testbed

# Release artefacts in dist/: static linux/amd64 and arm64 binaries, a .deb and an .rpm of each
# (nfpm, pinned in tools/dist/go.mod), SHA256SUMS.
dist:
	./scripts/dist.sh dist

# gofmt, go vet, and go.mod/go.sum (perfprov's and tools/dist's) as `go mod tidy` leaves them
# (direct requires listed as direct, nothing missing or unused): `go mod tidy -diff` changes
# nothing and prints what would.
vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...
	@for m in . tools/dist; do \
	  if ! (cd $$m && $(GO) mod tidy -diff); then echo "$$m/go.mod or go.sum is not tidy: run 'go mod tidy' there and commit the result"; exit 1; fi; \
	done

# What the tests need (chromium, the lab's tools, the real libcap and kernel sources).
deps:
	./scripts/test-deps.sh

# Every test, unit and integration (the lab of real hosts needs root). Fails on any failure.
test: deps vet
	$(GO) test -count=1 -timeout 60m ./...

# Unit tests only: no lab, no root.
unit:
	$(GO) test -count=1 -short ./...

# Every benchmark but the WAN one (bench-wan: minutes of toxiproxy latency).
bench: deps build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m $$($(GO) list ./... | grep -v /internal/wanbench)

# Round trips per operation through toxiproxy (L = 0..200 ms), the 20-host fan-out at 100 ms and
# Ansible, against OpenSSH and the bare x/crypto client (internal/wanbench; RoundTrips and Fanout about 7 minutes,
# Changes, an apply of 5 changes in 2 levels, 1 minute).
# WAN_BENCH picks some of them: make bench-wan WAN_BENCH=RoundTrips
WAN_BENCH ?= .
bench-wan: deps
	$(GO) test -count=1 -run '^$$' -bench '$(WAN_BENCH)' -benchtime 1x -timeout 40m ./internal/wanbench

# Only the fleet scale benchmarks of make bench (100 and 1,000 hosts, the -parallel sweep): their
# tables, with the goals beside the figures; 40 minutes or more on a loaded 2-core machine.
bench-scale: deps build
	$(GO) test -count=1 -run '^$$' -bench 'FleetScale|FleetParallel' -benchtime 1x -timeout 60m ./internal/fleetbench

# Each fuzz target for FUZZTIME (-fuzz takes one target per package run). Findings are written to
# the package's testdata/fuzz/NAME/, where plain `go test` then runs them as seeds.
FUZZTIME ?= 30s
FUZZ_TARGETS := FuzzLoad:./hcl FuzzKnownHosts:./transport/knownhosts FuzzAttachRequest:./transport/persist \
	FuzzSSHConfig:./provision/connect FuzzParse:./provision/facts FuzzParse:./provision/bench

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== $${t%%:*} $${t#*:}"; \
	  $(GO) test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

demo: build
	./scripts/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
