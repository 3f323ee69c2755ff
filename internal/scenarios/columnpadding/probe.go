package columnpadding

// The write probes: inserts and VACUUM on the wide and the reordered table, timed in alternating
// rounds.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// probed is what the interleaved probe measured: aligned over careless, as medians of rounds.
type probed struct {
	insertRatio, vacuumRatio float64
}

// probe loads both layouts in turns, for comparable insert and VACUUM figures on a machine whose
// speed changes from one minute to the next: fresh copies of both tables get the same batch of
// rows, each followed by a VACUUM of the new pages, for the given rounds, the layout that goes
// first alternating. The rows are numbered after the main load's, so they are new rows.
func (s *scenario) probe(ctx context.Context, conn *pgx.Conn, seed uint64, after, batchRows int64, rounds int) (probed, error) {
	tables := map[string]string{}
	var drops []string
	for _, v := range []string{Careless, Aligned} {
		tables[v] = "colpad_probe_" + v
		drops = append(drops, pgx.Identifier{tables[v]}.Sanitize())
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP TABLE IF EXISTS "+strings.Join(drops, ", "))
	}()
	for _, v := range []string{Careless, Aligned} {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{tables[v]}.Sanitize()+"; "+s.createSQL(tables[v], s.orders[v])); err != nil {
			return probed{}, fmt.Errorf("column-padding: create %s: %w", tables[v], err)
		}
	}
	var insert, vacuum []float64
	for r := range rounds {
		first := after + int64(r)*batchRows + 1
		order := []string{Careless, Aligned}
		if r%2 == 1 {
			order = []string{Aligned, Careless}
		}
		took := map[string][2]time.Duration{}
		for _, v := range order {
			t0 := time.Now()
			src := newRowSource(s.layout.cols, s.copyOrder(s.orders[v]), seed, first, first+batchRows-1)
			if _, err := conn.PgConn().CopyFrom(ctx, src, s.copySQL(tables[v], s.orders[v])); err != nil {
				return probed{}, fmt.Errorf("column-padding: probe copy into %s: %w", tables[v], err)
			}
			t1 := time.Now()
			if _, err := conn.Exec(ctx, "VACUUM "+pgx.Identifier{tables[v]}.Sanitize()); err != nil {
				return probed{}, fmt.Errorf("column-padding: probe vacuum of %s: %w", tables[v], err)
			}
			took[v] = [2]time.Duration{t1.Sub(t0), time.Since(t1)}
		}
		// Rate ratio: careless time over aligned time for the same rows.
		insert = append(insert, ratio(took[Careless][0].Seconds(), took[Aligned][0].Seconds()))
		vacuum = append(vacuum, ratio(took[Aligned][1].Seconds(), took[Careless][1].Seconds()))
	}
	return probed{insertRatio: median(insert), vacuumRatio: median(vacuum)}, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
}
