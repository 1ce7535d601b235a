# Driftless entry points. Every target runs on Node 24: a Node 22+ already on
# PATH is used as it is; otherwise Node 24 is installed from the npm registry's
# `node` package into .toolchain/ (git-ignored) and put first on PATH.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

DRIFTLESS_CACHE ?= $(HOME)/.cache/driftless
export DRIFTLESS_CACHE

SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell test $(SYSTEM_NODE_MAJOR) -ge 22 && echo ok),ok)
NODE_STAMP :=
else
NODE_STAMP := .toolchain/node_modules/.bin/node
export PATH := $(CURDIR)/.toolchain/node_modules/.bin:$(PATH)
endif
export PATH := $(DRIFTLESS_CACHE)/bin/current:$(PATH)

TEST_CONCURRENCY ?= 2
UNIT_TESTS := 'common/src/**/*.test.ts' 'agent/src/**/*.test.ts' 'hub/src/**/*.test.ts' 'hub/web/src/**/*.test.ts' 'proto/**/*.test.ts'
# The image test builds both images (minutes): `make test-images`, not part of these.
IMAGE_TESTS := 'test/integration/packaging/images.test.ts'
INTEGRATION_TESTS := 'test/harness/**/*.test.ts' 'test/integration/**/!(images).test.ts' 'test/security/**/*.test.ts'
E2E_TESTS := 'test/e2e/**/*.test.ts'
# Part of INTEGRATION_TESTS too; `make security` runs them alone.
SECURITY_TESTS := 'test/security/**/*.test.ts'
BROWSER_TESTS := 'test/browser/**/*.test.ts'
WEB_SOURCES := $(shell find hub/web/src hub/web/public -type f 2>/dev/null) hub/web/index.html hub/web/vite.config.ts hub/web/package.json

.PHONY: help setup node deps tools build web typecheck lint format proto verify test unit integration security e2e browser bench demo clean bundle release install uninstall image test-images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: node deps tools ## install Node 24 if needed, npm dependencies and the cached test binaries

node: $(NODE_STAMP)

.toolchain/node_modules/.bin/node:
	npm install --prefix .toolchain --no-save --no-audit --no-fund node@24
	@node --version

deps: node node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json package.json */package.json hub/web/package.json
	npm ci --no-audit --no-fund
	@touch $@

tools: ## build etcd, kube-apiserver, kwok, kustomize, helm, nats-server into $(DRIFTLESS_CACHE)
	test/harness/tools/build.sh

build: deps typecheck web ## type-check every package (Node runs the sources directly) and bundle the dashboard

web: deps hub/web/dist/index.html ## bundle the dashboard (hub/web) into hub/web/dist, which the hub serves at /

hub/web/dist/index.html: $(WEB_SOURCES)
	cd hub/web && npx vite build --logLevel warn

typecheck: deps
	npx tsc -p tsconfig.json
	npx tsc -p hub/web/tsconfig.json

lint: deps ## type-aware lint and format check
	npx eslint --max-warnings 0 .
	npx prettier --check .

format: deps ## rewrite files in the house format
	npx prettier --write .

proto: deps ## regenerate the TypeScript for proto/driftless/v1/*.proto
	proto/generate.sh

verify: lint typecheck ## lint, type-check, and fail when regenerating proto changes it
	proto/generate.sh
	git diff --exit-code -- proto/ || { echo "generated proto code is stale: run make proto and commit" >&2; exit 1; }

unit: deps ## unit tests (no servers)
	node --test --test-concurrency=$(TEST_CONCURRENCY) $(UNIT_TESTS)

integration: setup ## integration tests against real servers started on loopback
	node --test --test-concurrency=$(TEST_CONCURRENCY) $(INTEGRATION_TESTS)

security: setup ## attack and fault tests against real hub and agent processes (test/security)
	node --test --test-concurrency=1 $(SECURITY_TESTS)

e2e: setup ## end-to-end tests: Git commit -> agents -> hub
	node --test --test-concurrency=1 $(E2E_TESTS)

browser: setup web ## dashboard tests in Chromium against a real hub fed by simulated agents
	node --test --test-concurrency=1 $(BROWSER_TESTS)

test: setup web ## every test: unit, integration, end-to-end and dashboard
	node --test --test-concurrency=$(TEST_CONCURRENCY) $(UNIT_TESTS) $(INTEGRATION_TESTS) $(E2E_TESTS) $(BROWSER_TESTS)

bench: setup ## benchmarks; results are recorded in docs/benchmarks.md
	test/bench/flux/build.sh
	for f in test/bench/*.bench.ts; do echo "== $$f"; node --expose-gc "$$f"; done

demo: setup web ## run hub, two local clusters, agents and a Git server
	node test/demo/demo.ts

clean: ## remove installed dependencies and build output (the binary cache stays)
	rm -rf node_modules */node_modules .toolchain hub/web/dist dist

# Packaging (docs/install.md): plain-JavaScript bundles, the release tarball,
# `make install`, and the container images.
PREFIX ?= $(HOME)/.local

bundle: deps web ## bundle driftless, driftless-agent and driftless-hub into dist/bin (plain JavaScript) with the dashboard in dist/web
	node deploy/bundle.ts --out dist

release: deps web ## the release artifact dist/release/driftless-VERSION.tgz: an npm package that needs no checkout
	node deploy/release.ts --out dist/release

install: deps web ## put driftless, driftless-agent and driftless-hub into $(PREFIX)/bin (default ~/.local/bin)
	tarball=$$(node deploy/release.ts --out dist/release) && \
	  npm install -g --prefix "$(PREFIX)" --offline --no-audit --no-fund "$$tarball"
	@echo "installed into $(PREFIX)/bin (needs Node.js 22.12+ on PATH to run)"

uninstall: ## remove what make install put into $(PREFIX)
	npm uninstall -g --prefix "$(PREFIX)" driftless

image: deps web ## the agent and hub images as OCI archives in dist/images (buildah; BASE=auto|local|IMAGE)
	deploy/images/build.sh --out dist/images --base "$(or $(BASE),auto)"

test-images: setup web ## build the images and test them: run, push to a registry, install the charts
	node --test --test-concurrency=1 $(IMAGE_TESTS)
