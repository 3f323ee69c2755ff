# pgscale: benchmark PostgreSQL and plan its capacity. `make help` lists the targets.

GO      ?= go
BIN     := bin/pgscale
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
LDFLAGS := -X github.com/pgscale/pgscale/internal/runner.Version=$(VERSION) -X github.com/pgscale/pgscale/internal/runner.Commit=$(COMMIT)
BENCH_DIR ?= results/runs/bench-$(shell date -u +%Y%m%dT%H%M%SZ)
GATE_DIR ?= results/runs/gate-$(shell date -u +%Y%m%dT%H%M%SZ)
# Target for make bench: auto picks docker when an engine answers and the image is there, else local.
TARGET  ?= auto
# How long make test (and make fuzz) runs each fuzz target.
FUZZTIME ?= 10s

.PHONY: help build bench test fuzz gate lint perf image clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## Build bin/pgscale
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pgscale

bench: build ## Run every scenario's --quick preset on the default target and print a combined summary
	@mkdir -p $(BENCH_DIR)
	@status=0; for s in $$($(BIN) list | awk '{print $$1}'); do \
		echo "== $$s"; \
		if [ $$s = pgbench ] && ! { "$$(pg_config --bindir 2>/dev/null)/pgbench" --version || pgbench --version; } >/dev/null 2>&1; then \
			echo "pgbench: skipped (pgbench is not installed)" > $(BENCH_DIR)/$$s.txt; \
		else \
			$(BIN) run $$s --quick --target $(TARGET) --out $(BENCH_DIR)/$$s > $(BENCH_DIR)/$$s.txt || status=1; \
		fi; \
		cat $(BENCH_DIR)/$$s.txt; \
	done; \
	echo "== queue with a long transaction (long_txn) and its fix"; \
	$(BIN) run queue --quick --set variants=dedicated --set long_txn=0,1h --set idle_in_transaction_timeout=0,2s \
		--target $(TARGET) --out $(BENCH_DIR)/queue-long-txn > $(BENCH_DIR)/queue-long-txn.txt || status=1; \
	cat $(BENCH_DIR)/queue-long-txn.txt; \
	echo "== timeouts proposed from select-only's run"; \
	$(BIN) timeouts $(BENCH_DIR)/select-only > $(BENCH_DIR)/timeouts.txt || status=1; \
	cat $(BENCH_DIR)/timeouts.txt; \
	echo; echo "== combined summary ($(BENCH_DIR))"; cat $(BENCH_DIR)/*.txt; exit $$status

# go test runs the packages' test binaries in the order given, -p (the CPUs) at a time: the
# longest ones are named first, so that none of them starts late and runs alone at the end.
TESTFIRST := ./cmd/pgscale ./internal/scenarios/queue ./cmd/pgscale/dsnsafety ./internal/scenarios/ddllock

test: ## Unit and integration tests against a real PostgreSQL, then every fuzz target for FUZZTIME
	$(GO) test -count=1 -timeout 18m $(TESTFIRST) ./...
	@$(MAKE) --no-print-directory fuzz

# go test -fuzz takes one target a run: find the packages whose tests hold a Fuzz function, ask
# each for its targets, and run them one by one, FUZZJOBS packages at once (each package's
# targets one after another, its output printed whole when it is done). Every target gets the
# full FUZZTIME; with FUZZJOBS at once each gets FUZZPARALLEL fuzzing workers (default: the CPUs
# shared among the jobs). Their corpora are in <package>/testdata/fuzz.
# -fuzzminimizetime 1s: go minimizes every new interesting input, by default for up to 60 s, with
# no executions counted meanwhile; a minimization still running at -fuzztime fails the target
# with "context deadline exceeded" (FuzzParseShapes did, in CI), though nothing failed.
# Go before 1.27 also fails a target with that bare line now and then when -fuzztime ends, a race
# in its fuzzing coordinator (golang/go#75804; seen here on FuzzRedactDSN with go1.26.8): a run
# whose only failure is that line, with no failing input written, counts as passed and says so.
# Any other failure, or a failing input written to testdata/fuzz, fails the target.
FUZZJOBS ?= 2
FUZZPARALLEL ?= $(shell n=$$(( $$(nproc) / $(FUZZJOBS) )); [ $$n -ge 1 ] && echo $$n || echo 1)
fuzz: ## Run every Fuzz* target in the repo for FUZZTIME each (default 10s), FUZZJOBS packages at once
	@find . -name '*_test.go' -not -path './.git/*' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u | \
	xargs -P $(FUZZJOBS) -n1 sh -c 'log=$$(mktemp); status=0; \
		for target in $$($(GO) test -list "^Fuzz" "$$1" | grep "^Fuzz"); do \
			echo "== fuzz $$1 $$target ($(FUZZTIME), -parallel $(FUZZPARALLEL))" >>"$$log"; \
			one=$$(mktemp); inputs=$$(ls "$$1/testdata/fuzz/$$target" 2>/dev/null | wc -l); \
			$(GO) test -run "^\$$" -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s -parallel $(FUZZPARALLEL) "$$1" >"$$one" 2>&1; \
			code=$$?; cat "$$one" >>"$$log"; \
			if [ $$code -ne 0 ] && [ "$$(grep -c "^    " "$$one")" = 1 ] && grep -qx "    context deadline exceeded" "$$one" \
				&& grep -qx -- "--- FAIL: $$target ([0-9.]*s)" "$$one" && [ "$$(grep -c "^--- FAIL" "$$one")" = 1 ] \
				&& [ "$$(ls "$$1/testdata/fuzz/$$target" 2>/dev/null | wc -l)" = "$$inputs" ]; then \
				echo "== fuzz $$1 $$target: only go'"'"'s own -fuzztime deadline race (golang/go#75804), no failing input: passed" >>"$$log"; \
			elif [ $$code -ne 0 ]; then status=1; rm -f "$$one"; break; fi; \
			rm -f "$$one"; \
		done; cat "$$log"; rm -f "$$log"; exit $$status' fuzz

gate: build ## pgscale's own performance gate: its load generator against pgbench, vs the committed baseline
	$(BIN) gate --config .ci/gate.yaml --out $(GATE_DIR)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

perf: build ## Hot-path benchmarks (the lookup loop against a local server included) and calibrate
	$(GO) test -run '^$$' -bench . -benchmem ./internal/loadgen/ ./internal/report/ ./internal/scenarios/selectonly/
	$(BIN) calibrate --target $(TARGET)

image: ## Build the PostgreSQL, PgBouncer and pgscale images (no registry needed)
	bash docker/build-images.sh
	bash docker/k8s/build-image.sh pgscale/pgscale:$(VERSION) pgscale/pgscale:dev

clean: ## Remove bin/ and whatever killed runs left behind
	rm -rf bin
	-$(BIN) clean 2>/dev/null || $(GO) run ./cmd/pgscale clean
