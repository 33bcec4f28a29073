# kvchaos: build, test and chaos-run the bundled kvserver.
# `make chaos` is the main job, `make test` the test command (.ci/run calls it).

GO        ?= go
BIN       := $(CURDIR)/bin
PKG       := github.com/kvchaos/kvchaos
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_TIME?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildTime=$(BUILD_TIME)
GINKGO    := $(BIN)/ginkgo
# Packages with plain Go tests (everything but the Ginkgo suites).
UNIT_PKGS := ./server/... ./harness/... ./fault/... ./reports/... ./cmd/... ./docs/...

.PHONY: all build tools deps test unit suites quick chaos docs docs-check bench fmt vet clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/kvserver ./cmd/kvserver
	@if [ -d cmd/kvchaos ] && ls cmd/kvchaos/*.go >/dev/null 2>&1; then \
		$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/kvchaos ./cmd/kvchaos; fi

# tools installs the ginkgo CLI at the version pinned in go.mod (a `tool` line).
tools: $(GINKGO)
$(GINKGO): go.mod go.sum
	$(GO) build -o $(GINKGO) github.com/onsi/ginkgo/v2/ginkgo

# deps installs the Debian packages the fault injectors and report tests use,
# when they are missing and we are root (otherwise those specs skip, saying why).
deps:
	@bash .ci/deps

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

# suites runs the Ginkgo suites with the quick profile (CI's).
suites: tools build
	$(GINKGO) -r --race --keep-going --label-filter='!slow' --timeout=20m suites

# quick is the quick label set, every spec not labelled slow, in parallel:
# the inner loop while working on the server or the harness.
quick: tools build
	$(GINKGO) -r -p --keep-going --label-filter='!slow' suites

test: deps tools build vet docs-check unit suites

# chaos is the main job: every suite against the bundled kvserver through
# `kvchaos run` (reads kvchaos.yaml), which writes JUnit, JSON, HTML and
# Markdown reports to reports/ and says where the HTML report is.
chaos: deps tools build
	$(BIN)/kvchaos run

# docs regenerates docs/ from the route table, live kvservers and
# docs/data/bench.json; docs-check fails when a page is stale (run in test).
docs: build
	$(BIN)/kvchaos docs --server-bin $(BIN)/kvserver

docs-check:
	$(GO) run ./cmd/kvchaos docs --check

# bench measures kvserver beside a net/http baseline and, installed here when
# missing and root, redis-server for reference (bench.json, bench.html in
# reports/bench); `make docs` renders docs/performance-tuning.md from a
# copy in docs/data/bench.json.
bench: build
	@bash .ci/deps redis
	$(BIN)/kvchaos bench --server-bin $(BIN)/kvserver --out reports/bench

clean:
	rm -rf $(BIN) reports/artifacts reports/*.xml reports/*.json reports/*.html reports/*.png \
		reports/summary.md reports/history.jsonl reports/ginkgo.log reports/repro _artifacts
