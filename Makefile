# pgscale: benchmark PostgreSQL and plan its capacity. `make help` lists the targets.

GO      ?= go
BIN     := bin/pgscale
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/pgscale/pgscale/runner.Version=$(VERSION)
BENCH_DIR ?= results/runs/bench-$(shell date -u +%Y%m%dT%H%M%SZ)
GATE_DIR ?= results/runs/gate-$(shell date -u +%Y%m%dT%H%M%SZ)
# Target for make bench: auto picks docker when an engine answers and the image is there, else local.
TARGET  ?= auto

.PHONY: help build bench test gate lint perf image clean

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
	echo; echo "== combined summary ($(BENCH_DIR))"; cat $(BENCH_DIR)/*.txt; exit $$status

test: ## Unit and integration tests against a real PostgreSQL
	$(GO) test -count=1 -timeout 18m ./...

gate: build ## pgscale's own performance gate: its load generator against pgbench, vs the committed baseline
	$(BIN) gate --config .ci/gate.yaml --out $(GATE_DIR)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

perf: build ## Hot-path benchmarks and the calibration against pgbench
	$(GO) test -run '^$$' -bench . -benchmem ./loadgen/ ./report/
	$(BIN) calibrate --target $(TARGET)

image: ## Build the PostgreSQL, PgBouncer and pgscale images (no registry needed)
	bash docker/build-images.sh
	bash docker/k8s/build-image.sh pgscale/pgscale:$(VERSION) pgscale/pgscale:dev

clean: ## Remove bin/ and whatever killed runs left behind
	rm -rf bin
	-$(BIN) clean 2>/dev/null || $(GO) run ./cmd/pgscale clean
