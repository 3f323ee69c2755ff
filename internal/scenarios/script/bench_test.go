package script_test

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
	"github.com/pgscale/pgscale/internal/script"
)

// BenchmarkTPCBTransaction runs pgbench's tpcb-like transaction on one connection, recording
// its statements as the scenario does: the client's CPU and allocations per transaction are what
// the comparison with pgbench measures.
func BenchmarkTPCBTransaction(b *testing.B) {
	p := &harness.LocalProvider{}
	harnesstest.Require(b, "PostgreSQL", p.Available(context.Background()))
	ctx := context.Background()
	target, err := p.Start(ctx, harness.Spec{Kind: harness.KindLocal, RunID: "script-bench",
		Settings: map[string]string{"synchronous_commit": "off"}})
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close(context.Background())
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
	s, err := script.Builtin("tpcb-like")
	if err != nil {
		b.Fatal(err)
	}
	mix, err := script.NewMix([]*script.Script{s})
	if err != nil {
		b.Fatal(err)
	}
	rec := loadgen.NewRecorder(time.Now())
	names := []string{s.Name}
	index := map[*script.Command]int{}
	for _, c := range s.Commands {
		if c.Meta == "" {
			index[c] = len(names)
			names = append(names, c.Label)
		}
	}
	rec.SetParts(names)
	for _, protocol := range []script.Protocol{script.ProtocolSimple, script.ProtocolPrepared} {
		b.Run(string(protocol), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			c := script.NewClient(0, script.Options{Protocol: protocol, MaxTries: 1, Scale: 1}, r)
			obs := func(_ int, cmd *script.Command, started time.Time, d time.Duration, err error) {
				rec.RecordPart(index[cmd], started, d, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				started := time.Now()
				out := c.Run(ctx, conn, mix, mix.Pick(r), obs)
				if out.Err != nil {
					b.Fatal(out.Err)
				}
				rec.RecordPart(0, started, time.Since(started), nil)
			}
		})
	}
}
