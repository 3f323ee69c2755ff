package selectonly_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

func startLocal(tb testing.TB) harness.Target {
	tb.Helper()
	p := &harness.LocalProvider{}
	harnesstest.Require(tb, "PostgreSQL", p.Available(context.Background()))
	target, err := p.Start(context.Background(), harness.Spec{Kind: harness.KindLocal, RunID: "selectonly-test"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = target.Close(context.Background()) })
	return target
}

// BenchmarkLookup measures one select-only operation end to end on one connection: the client's
// share of it is what calibrate compares with pgbench. Outside a run, pgx watches the operation's
// context (4 of the 5 allocations); BenchmarkRunLookup measures the path a run takes.
func BenchmarkLookup(b *testing.B) {
	target := startLocal(b)
	ctx := context.Background()
	cc, err := pgx.ParseConfig(target.DSN())
	if err != nil {
		b.Fatal(err)
	}
	conn, err := loadgen.Connect(ctx, cc, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := selectonly.CreateTables(ctx, conn, 1, func(string, ...any) {}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		b.Run(mode.String(), func(b *testing.B) {
			op := selectonly.Lookup(100000, mode)
			w := &loadgen.Worker{Rand: rand.New(rand.NewPCG(1, 2))}
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			b.ReportAllocs()
			for b.Loop() {
				if err := op(wctx, w, conn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
