# rosterdrop — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := demo

SWIFT ?= swift
APT_PACKAGES := zlib1g-dev libsqlite3-dev sqlite3 pkg-config time bc tzdata libssh2-1-dev openssh-server openssh-client
# PostgreSQL's server and client: the tests start their own server (initdb in a temporary
# folder) and run every suite on it too; the benchmark loads the national snapshot into one.
PG_APT_PACKAGES := postgresql postgresql-client
# Only the tests need a browser (the HTML reports are rendered in headless Chromium) and
# script(1) (a real terminal for the progress line).
TEST_APT_PACKAGES := chromium bsdutils $(PG_APT_PACKAGES)
DEMO_DIR := .demo
BIN := .build/debug

.PHONY: deps test-deps apt-install build demo demo-sftp demo-postgres test bench clean

## deps: install the Debian packages the build, demo and benchmark use (when missing).
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"
	@command -v $(SWIFT) >/dev/null || { echo "swift is not on PATH (expected Swift 6 toolchain)"; exit 1; }

## test-deps: deps, and what only the tests use.
test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

## demo: the whole job on generated sample deliveries, with the shipped config and catalogue.
demo: build
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@cp samples/config.yaml samples/products.csv $(DEMO_DIR)/
	$(BIN)/rosterdrop-samples demo --out $(DEMO_DIR)
	$(BIN)/rosterdrop products import --config $(DEMO_DIR)/config.yaml $(DEMO_DIR)/products.csv
	sqlite3 $(DEMO_DIR)/portal.sqlite < samples/portal-before.sql
	@scripts/demo.sh $(DEMO_DIR)

## demo-sftp: the same job, each drop folder served by a local sshd and reached over SFTP.
demo-sftp: build
	scripts/demo-sftp.sh

## demo-postgres: the same job with the portal on PostgreSQL (a local server, stopped at the end).
demo-postgres: build
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(PG_APT_PACKAGES)"
	scripts/demo-postgres.sh

## test: the whole suite (unit, SQLite, end to end against the built binaries).
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@echo "== the same suites with the portal on PostgreSQL (a server the tests start) =="
	ROSTERDROP_TEST_BACKEND=postgresql $(SWIFT) test --skip-build

## bench: national-scale figures (see scripts/bench.sh; USERS=… SCHOOLS=… for a smaller run).
bench: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(PG_APT_PACKAGES)"
	$(SWIFT) build -c release
	scripts/bench.sh

clean:
	rm -rf .build $(DEMO_DIR) .demo-sftp .demo-postgres .bench
