# acr-emulator: the two commands that matter are `make run` and `make test`.
# Tools the tests drive are installed into build/tools/bin, pinned, and only when missing.

GO        ?= go
BIN       := bin/acr-emulator
TOOLS_BIN := $(CURDIR)/build/tools/bin
CRANE_VERSION   := v0.22.1
ORAS_VERSION    := v1.3.6
REGCTL_VERSION  := v0.11.7
COMPOSE_VERSION := v2.40.3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export PATH := $(TOOLS_BIN):$(PATH)

.PHONY: all build build-static image run test test-unit test-e2e fuzz conformance bench bench-go lint tools apt-tools compose-plugin az-setup clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/acr-emulator

run: build
	./$(BIN)

# A static binary for the scratch image (Dockerfile.scratch), built here where no base image
# can be pulled; `make image` builds that image with the local docker.
STATIC_BIN := build/static/acr-emulator
build-static:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(STATIC_BIN) ./cmd/acr-emulator

image: build-static
	docker build -f Dockerfile.scratch -t acr-emulator:dev build/static

# Every client the tests drive, installed once, before any long step (see test).
tools: apt-tools $(TOOLS_BIN)/crane $(TOOLS_BIN)/oras $(TOOLS_BIN)/regctl $(TOOLS_BIN)/docker-compose $(TOOLS_BIN)/static/crane \
	$(TOOLS_BIN)/tofu $(TOOLS_BIN)/terraform-provider-azurerm

$(TOOLS_BIN)/crane:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

$(TOOLS_BIN)/oras:
	GOBIN=$(TOOLS_BIN) $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

$(TOOLS_BIN)/regctl:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/regclient/regclient/cmd/regctl@$(REGCTL_VERSION)

# OpenTofu and the azurerm provider for e2e/tofu_test.go, built from the Go module proxy. With
# an empty build cache on 2 cores they take about 7 and 12 minutes; later builds reuse Go's
# build cache. `go install` refuses OpenTofu's replace directives, so its module is built in a
# writable copy, with the release builds' -trimpath (which also keeps the copy's random path out
# of the build cache's keys) and version.dev=no (so it reports v1.12.6, not v1.12.6-dev).
TOFU_VERSION    := v1.12.6
AZURERM_VERSION := v1.44.1-0.20260824201233-fae580791926

$(TOOLS_BIN)/tofu:
	@echo "building OpenTofu $(TOFU_VERSION) (about 7 minutes the first time)"
	@set -e; dir=$$(cd / && $(GO) mod download -json github.com/opentofu/opentofu@$(TOFU_VERSION) | \
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir"; tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	cp -R "$$dir" "$$tmp/opentofu"; chmod -R u+w "$$tmp/opentofu"; \
	cd "$$tmp/opentofu" && $(GO) build -trimpath -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o "$$tmp/tofu" ./cmd/tofu; \
	mkdir -p $(TOOLS_BIN); mv "$$tmp/tofu" $@

$(TOOLS_BIN)/terraform-provider-azurerm:
	@echo "building terraform-provider-azurerm $(AZURERM_VERSION) (about 12 minutes the first time)"
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/hashicorp/terraform-provider-azurerm@$(AZURERM_VERSION)

# A static crane for the compose test's client container (a scratch image).
$(TOOLS_BIN)/static/crane:
	CGO_ENABLED=0 GOBIN=$(TOOLS_BIN)/static $(GO) install -trimpath github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

# The compose v2 CLI, built from the Go module proxy, pinned, as a docker CLI plugin (the e2e
# test links it into its docker config's cli-plugins). The module cache is read-only, so the
# source is copied to a writable directory first.
compose-plugin: $(TOOLS_BIN)/docker-compose
$(TOOLS_BIN)/docker-compose:
	@set -e; src=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; cp -R "$$src/." "$$tmp"; chmod -R u+w "$$tmp"; \
	cd "$$tmp" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false $(GO) build -trimpath \
		-ldflags "-X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)" -o $(TOOLS_BIN)/docker-compose ./cmd

# Debian packages, installed only when missing: TEST:PACKAGE, TEST a command or a path. apt
# waits for another apt's lock (a fresh machine may be installing something) instead of failing.
APT_TOOLS := curl:curl node:nodejs skopeo:skopeo dockerd:docker.io docker:docker.io az:azure-cli chromium:chromium podman:podman \
	buildah:buildah /usr/bin/docker-compose:docker-compose /usr/lib/python3/dist-packages/azure/identity:python3-azure \
	/usr/lib/python3/dist-packages/azure/containerregistry:python3-azure
APT_GET := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600
apt-tools:
	@missing=""; for pair in $(APT_TOOLS); do test=$${pair%%:*}; pkg=$${pair#*:}; \
		command -v $$test >/dev/null 2>&1 || [ -e "$$test" ] || case " $$missing " in *" $$pkg "*) ;; *) missing="$$missing $$pkg";; esac; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq $$missing; \
	fi

# az-setup registers the running emulator (make run, default addresses) as a custom cloud of
# the az CLI in build/azure and logs in as the default world's service principal; then use az
# with the environment it prints.
AZ_ENV = AZURE_CONFIG_DIR=$(CURDIR)/build/azure REQUESTS_CA_BUNDLE=$${HOME}/.acr-emulator/ca.pem \
	HTTPS_PROXY=http://127.0.0.1:8081 HTTP_PROXY=http://127.0.0.1:8081 AZURE_CORE_COLLECT_TELEMETRY=false
az-setup:
	$(AZ_ENV) az cloud register -n AcrEmulator --endpoint-resource-manager https://localhost:8443/ \
		--endpoint-active-directory https://localhost:8443 \
		--endpoint-active-directory-resource-id https://management.core.windows.net/ \
		--endpoint-active-directory-graph-resource-id https://graph.windows.net/ \
		--suffix-acr-login-server-endpoint .azurecr.io --suffix-keyvault-dns .vault.azure.net -o none 2>/dev/null || true
	$(AZ_ENV) az cloud set -n AcrEmulator
	$(AZ_ENV) az login --service-principal -u 33333333-3333-3333-3333-333333333333 \
		-p acr-emulator-client-secret --tenant 11111111-1111-1111-1111-111111111111 -o none
	@echo "az is logged in to the emulator. In your shell:"
	@echo "  export $(AZ_ENV)"

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit tests with the race detector; e2e drives the built binary with real clients.
test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

test-e2e: build build-static tools
	ACR_EMULATOR_BIN=$(CURDIR)/$(BIN) ACR_EMULATOR_STATIC_BIN=$(CURDIR)/$(STATIC_BIN) CRANE=$(TOOLS_BIN)/crane ORAS=$(TOOLS_BIN)/oras \
		REGCTL=$(TOOLS_BIN)/regctl COMPOSE_PLUGIN=$(TOOLS_BIN)/docker-compose COMPOSE_V1=/usr/bin/docker-compose CRANE_STATIC=$(TOOLS_BIN)/static/crane \
		$(GO) test -count=1 -timeout 45m ./e2e/...

conformance: build
	ACR_EMULATOR_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m -v ./e2e/conformance/

# A short burst of every fuzz target (their seed corpora already run in test-unit). A crash
# is written under the package's testdata/fuzz: commit it, it becomes a corpus entry.
# The burst is counted in executions, not seconds: a -fuzztime in seconds races the engine's
# own deadline and fails with "context deadline exceeded" on a loaded machine with nothing
# found (golang/go#75804).
FUZZTIME ?= 20000x
fuzz:
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd emulator fakes scenarios | xargs -n1 dirname | sort -u | sed 's|^|./|'); do \
		for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1 || \
				{ tail -n 60 $$log; exit 1; }; \
		done; \
	done

# tools first: a missing client fails in seconds, not after the unit tests.
test: tools
	$(MAKE) lint test-unit fuzz test-e2e

# The performance table (e2e/bench): acr-emulator over TLS and plain HTTP against
# go-containerregistry's and distribution's registries, one client, one run, every ratio, the
# machine's limits; it prints the table and writes e2e/bench/results/{results.md,throughput.svg}
# and the README's figures. About 10 minutes on 2 cores; BENCH_FLAGS=-rounds=1 for a quicker look.
BENCH_FLAGS ?=
bench: build
	$(GO) run ./e2e/bench/cmd/benchtable -bin $(BIN) -readme README.md $(BENCH_FLAGS)

# The packages' own Go benchmarks (token issuance, handlers); pipe through benchstat to compare.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $$($(GO) list ./... | grep -v /e2e)

clean:
	rm -rf bin build
