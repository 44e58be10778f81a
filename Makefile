# acr-emulator: the two commands that matter are `make run` and `make test`.
# Tools the tests drive are installed into build/tools/bin, pinned, and only when missing.

GO        ?= go
BIN       := bin/acr-emulator
TOOLS_BIN := $(CURDIR)/build/tools/bin
CRANE_VERSION := v0.22.1

export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: all build run test test-unit test-e2e conformance bench lint tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/acr-emulator

run: build
	./$(BIN)

tools: $(TOOLS_BIN)/crane

$(TOOLS_BIN)/crane:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit tests with the race detector; e2e drives the built binary with real clients.
test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

test-e2e: build tools
	ACR_EMULATOR_BIN=$(CURDIR)/$(BIN) CRANE=$(TOOLS_BIN)/crane \
		$(GO) test -count=1 -timeout 20m ./e2e/...

conformance: build
	ACR_EMULATOR_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m -v ./e2e/conformance/

test: lint test-unit test-e2e

# Go benchmarks; e2e/bench runs each case against acr-emulator and go-containerregistry's
# in-memory registry side by side (pipe through benchstat to compare runs).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $$($(GO) list ./... | grep -v /e2e/conformance)

clean:
	rm -rf bin build
