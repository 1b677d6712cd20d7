# rack-gateway build. `make demo` and `make test` are the two commands the
# README promises work on a fresh machine with Go installed.

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/rack-gateway/rack-gateway/internal/buildinfo.Version=$(VERSION) -X github.com/rack-gateway/rack-gateway/internal/buildinfo.Commit=$(COMMIT)
TESTFLAGS ?= -count=1 -timeout 15m
STATICCHECK ?= v0.8.2
GORELEASER  ?= v2.15.1
PREFIX    ?= /usr/local
DESTDIR   ?=

# The agent talks to security keys through libfido2 (cgo) when its headers
# are installed (Debian: libfido2-dev). Without them, build the pure-Go
# "no security key" authenticator instead of failing, so make demo and make
# test work on a fresh machine. Exported so that go commands run by tests
# build the same way.
ifeq ($(wildcard /usr/include/fido.h),)
export GOFLAGS := $(strip $(GOFLAGS) -tags=nofido)
endif

.PHONY: all build test test-short fuzz demo bench lint vet fmt cross dist install clean

all: build

# The thin CLI is always pure Go (CGO_ENABLED=0): it must never link cgo,
# keyring or FIDO code. The agent links libfido2 when cgo is available.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/rack-gateway ./cmd/rack-gateway
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/rack-gateway-agent ./cmd/rack-gateway-agent
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/rack-gateway-sandbox ./cmd/rack-gateway-sandbox

test:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

test-short:
	$(GO) test -short ./...

# Every fuzz target for FUZZTIME each, one after the other, one worker
# (packaging/fuzz.sh finds the targets). make test already runs their seed
# corpora as plain tests; this mutates them. A long run: FUZZTIME=6m.
FUZZTIME ?= 10s
fuzz:
	@GO='$(GO)' bash packaging/fuzz.sh '$(FUZZTIME)'

demo: build
	@bash packaging/demo.sh $(BIN)

# Every figure of docs/performance.md, one benchmark per go test run so
# each has its own sample count (-benchtime Nx: N samples, or N runs where
# the benchmark says so). 2–5 minutes on 2 cores; the load average is
# printed first and last because every figure is only as quiet as the
# machine was.
BENCH = $(GO) test -run '^$$' -count 1 -timeout 20m ./internal/e2e/ -bench

bench: build
	@uptime
	@echo '== warm and cold apps'
	$(BENCH) 'AppsCommand' -benchtime 40x
	$(BENCH) 'AppsCold' -benchtime 15x
	@echo '== other commands'
	$(BENCH) 'RackCommand' -benchtime 20x
	$(BENCH) 'PromptCommand' -benchtime 30x
	$(BENCH) 'StepUpSharing' -benchtime 3x
	@echo '== logs -f relay, local API, memory'
	$(BENCH) 'LogsRelay' -benchtime 3x
	$(BENCH) 'StatusAPI' -benchtime 3x
	$(BENCH) 'AgentMemory' -benchtime 1x
	@echo '== scaling'
	$(BENCH) 'AppsRacks' -benchtime 40x
	$(BENCH) 'AppsTerminals' -benchtime 1x
	@uptime

lint: vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

# Both programs must build for every supported OS without cgo.
cross:
	@for t in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do \
	  os=$${t%/*}; arch=$${t#*/}; echo "build $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/rack-gateway || exit 1; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/rack-gateway-agent || exit 1; \
	done

# Release archives, .deb and .rpm packages, checksums and the Homebrew
# formula, as a local snapshot in dist/ (see packaging/goreleaser.yaml).
# goreleaser gives up on all git facts (commit "none") in a clone without a
# remote, so such a clone lends it the project's URL for this run only.
dist:
	@if [ -z "$$(git remote 2>/dev/null)" ]; then \
	  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/rack-gateway/rack-gateway.git; \
	fi; \
	set -x; $(GO) run github.com/goreleaser/goreleaser/v2@$(GORELEASER) release --snapshot --clean --config packaging/goreleaser.yaml

# What the packages hold, under $(DESTDIR)$(PREFIX) (README.md, "Install"):
# bin/, share/man/man1/, the bash, zsh and fish completions, the systemd user
# unit in lib/systemd/user/ (running $(PREFIX)/bin/rack-gateway-agent) and
# the prompt snippets in share/rack-gateway/shell/.
install: build
	$(GO) run ./packaging/genman -version $(VERSION) -date "$$(git log -1 --format=%cs 2>/dev/null)" $(BIN)/share
	sed 's|/usr/bin/rack-gateway-agent|$(PREFIX)/bin/rack-gateway-agent|' packaging/systemd/rack-gateway-agent.service >$(BIN)/share/rack-gateway-agent.service
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/lib/systemd/user \
	  $(DESTDIR)$(PREFIX)/share/rack-gateway/shell
	install -m 0755 $(BIN)/rack-gateway $(BIN)/rack-gateway-agent $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(BIN)/share/man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(BIN)/share/completions/rack-gateway.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rack-gateway
	install -m 0644 $(BIN)/share/completions/_rack-gateway $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_rack-gateway
	install -m 0644 $(BIN)/share/completions/rack-gateway.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/rack-gateway.fish
	install -m 0644 $(BIN)/share/rack-gateway-agent.service $(DESTDIR)$(PREFIX)/lib/systemd/user/rack-gateway-agent.service
	install -m 0644 packaging/shell/* $(DESTDIR)$(PREFIX)/share/rack-gateway/shell/

clean:
	rm -rf $(BIN) dist
