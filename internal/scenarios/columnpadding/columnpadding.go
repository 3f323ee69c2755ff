// Package columnpadding is the column-padding scenario: a wide table whose columns were added
// the way a team adds them over time (a flag, then a timestamp, then a counter…), against the
// same columns in alignment order, loaded with the same rows by COPY. It measures what the
// padding PostgreSQL puts between misaligned columns costs: heap and total size, bytes and
// padding bytes per row (measured, and predicted by the `pgscale columns` model), insert rate,
// sequential scan and VACUUM time.
//
// The article ("Lessons learned scaling PostgreSQL database to 1.2bn records/month") says
// ordering the columns of 60+ column tables "saved 20%+ storage"; this scenario measures what
// reordering saves on a table of that shape, or on the user's own (--set ddl=FILE.sql).
package columnpadding

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/columns"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "column-padding"

// Variants.
const (
	Careless = "careless"
	Aligned  = "aligned"
)

// maxColumns bounds the generated table: 500 columns of about 8 bytes on average stay well under
// the 8160 bytes a heap tuple may take (PostgreSQL allows 1600 columns, but not that many wide
// ones in a row).
const maxColumns = 500

// layoutTable is where Setup creates the careless definition to read its columns back from the
// catalog, as the analyzer reads any table.
const layoutTable = "colpad_layout"

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct {
	// both is set when the plan has both variants: the careless table is then kept until the
	// aligned point has timed its scans against it, interleaved.
	both     bool
	layout   layout
	orders   map[string][]int // variant -> indexes into layout.cols, in table order
	agg      string           // the aggregate scan's SQL expression
	careless *measurement     // the last careless measurement, for the aligned series' saving
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "what column order costs: a wide table in careless order vs alignment order, same rows",
		Shows: "How much heap a 60+ column table loses to alignment padding when its columns are in the order a team " +
			"added them (bool next to timestamptz, int2 before int8…), against the same columns ordered 8-byte fixed " +
			"first, then 4, 2, 1, then variable-length, NOT NULL before nullable (the order `pgscale columns` proposes). " +
			"Both get the same rows by COPY, each load starting from a CHECKPOINT. Each series reports heap and total " +
			"size, bytes and padding bytes per row measured with pg_column_size and predicted from pg_attribute and " +
			"pg_stats, insert rows/s, VACUUM time, and sequential scan time of count(*) and of sum() over the last " +
			"fixed-width numeric column of the careless order (scans forced sequential, without parallel workers or " +
			"JIT). The aligned series carries saving_pct (heap), total_saving_pct and tuple_saving_pct, and ratios " +
			"measured in turns with the careless table, for a noisy machine: seqscan_count_ratio, seqscan_agg_ratio " +
			"(scans of both tables alternate) and vacuum_ratio are aligned time ÷ careless time; insert_rate_ratio is " +
			"aligned rows/s ÷ careless rows/s (a probe copies the same batches into fresh copies of both, each followed " +
			"by VACUUM, for as many rounds as scans, alternating which goes first). Ops are rows loaded and latency is " +
			"per COPY batch; the run lasts as long as loading takes (--duration does not apply). With " +
			"--set ddl=FILE.sql the careless layout is the file's table as written (its primary key kept; other " +
			"constraints and indexes left out; nullable columns 20% NULL).",
		Variants: []string{Careless, Aligned},
		// The layouts load the same rows; what tells them apart is the heap each row takes.
		Headline: &result.Headline{Metric: MetricBytesPerRow, Label: "heap bytes per row", Unit: "B/row", Better: result.BetterLower,
			NoLatencySLO: true},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(Careless, Aligned),
			{Name: "rows", Kind: scenarios.KindInt, Default: "1000000", Quick: "100000", Min: 100,
				Help: "rows loaded into each table"},
			{Name: "columns", Kind: scenarios.KindInt, Default: "64", Min: 8,
				Help: fmt.Sprintf("columns of the generated table (8 to %d); ignored with ddl", maxColumns)},
			{Name: "seed", Kind: scenarios.KindInt, Default: "1", Min: 0,
				Help: "seed of the careless column order and of the rows"},
			{Name: "ddl", Kind: scenarios.KindString, Default: "",
				Help: "a file with the CREATE TABLE of your own table, tested instead of the generated one"},
			{Name: "batch", Kind: scenarios.KindInt, Default: "10000", Min: 1,
				Help: "rows per COPY statement (latency is per batch)"},
			{Name: "scans", Kind: scenarios.KindInt, Default: "7", Quick: "5", Min: 1,
				Help: "timed rounds of the scans (after one untimed) and of the insert and VACUUM probe; medians are reported"},
		},
	}
}

func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	if n := p.Int("columns"); n > maxColumns {
		errs = append(errs, usage.Fieldf("set", "columns=%d: at most %d", n, maxColumns))
	}
	values := map[string]any{"rows": p.Int("rows")}
	if ddl := p.String("ddl"); ddl != "" {
		if err := checkDDL(ddl); err != nil {
			errs = append(errs, err)
		}
		values["ddl"] = filepath.Base(ddl)
	} else {
		values["columns"] = p.Int("columns")
	}
	if len(errs) > 0 {
		return scenarios.Plan{}, errors.Join(errs...)
	}
	var plan scenarios.Plan
	s.both = slices.Contains(p.Strings("variants"), Careless) && slices.Contains(p.Strings("variants"), Aligned)
	// Careless always runs first, whatever order variants lists, so that the aligned series can
	// carry the saving against it.
	for _, v := range []string{Careless, Aligned} {
		if slices.Contains(p.Strings("variants"), v) {
			plan.Points = append(plan.Points, scenarios.Point{Variant: v, Values: values, Workers: 1})
		}
	}
	return plan, nil
}

// checkDDL makes sure the ddl file can be read and creates a table.
func checkDDL(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usage.Fieldf("set", "ddl=%s: cannot read it: %v", path, err)
	}
	low := strings.ToLower(string(data))
	if !strings.Contains(low, "create") || !strings.Contains(low, "table") {
		return usage.Fieldf("set", "ddl=%s: it has no CREATE TABLE statement", path)
	}
	return nil
}

// Setup settles both layouts: the careless one (generated, or the user's table as written) and
// the aligned one, which is the order the analyzer proposes for it, read back from the catalog.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	p := env.Params
	if path := p.String("ddl"); path != "" {
		if s.layout, err = ddlLayout(ctx, conn, path); err != nil {
			return err
		}
	} else {
		s.layout = generatedLayout(p.Int("columns"), uint64(p.Int("seed")))
	}
	ql := pgx.Identifier{layoutTable}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+ql+"; "+s.createSQL(layoutTable, allIndexes(len(s.layout.cols)))); err != nil {
		return fmt.Errorf("create the layout table: %w", err)
	}
	t, err := inspect(ctx, conn, layoutTable)
	if err != nil {
		return fmt.Errorf("inspect the layout table: %w", err)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE "+ql); err != nil {
		return fmt.Errorf("drop the layout table: %w", err)
	}
	byName := map[string]int{}
	for i, c := range s.layout.cols {
		byName[c.name] = i
	}
	var aligned []int
	for _, c := range columns.ProposeOrder(t.Columns) {
		aligned = append(aligned, byName[c.Name])
	}
	s.orders = map[string][]int{Careless: allIndexes(len(s.layout.cols)), Aligned: aligned}
	s.agg = "count(*)"
	if name := s.layout.aggColumn(); name != "" {
		s.agg = "sum(" + pgx.Identifier{name}.Sanitize() + ")"
	} else if n := len(s.layout.cols); n > 0 {
		s.agg = "count(" + pgx.Identifier{s.layout.cols[n-1].name}.Sanitize() + ")"
	}
	env.Logf("column-padding: %s; aggregate scan: %s", s.layout.source, s.agg)
	return nil
}

func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// createSQL is the CREATE TABLE of the layout's columns in order, with its primary key.
func (s *scenario) createSQL(table string, order []int) string {
	var defs []string
	for _, i := range order {
		c := s.layout.cols[i]
		def := pgx.Identifier{c.name}.Sanitize() + " " + c.def
		if c.notNull {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	if len(s.layout.pk) > 0 {
		var pk []string
		for _, k := range s.layout.pk {
			pk = append(pk, pgx.Identifier{k}.Sanitize())
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
	}
	return "CREATE TABLE " + pgx.Identifier{table}.Sanitize() + " (\n  " + strings.Join(defs, ",\n  ") + "\n)"
}

// inspect reads a table of the search path the way `pgscale columns` does.
func inspect(ctx context.Context, conn *pgx.Conn, table string) (*columns.Table, error) {
	oids, err := columns.Lookup(ctx, conn, columns.Selection{Table: table})
	if err != nil {
		return nil, err
	}
	t, err := columns.Inspect(ctx, conn, oids[0])
	if err != nil {
		return nil, err
	}
	return t, nil
}

// measurement is what one layout measured.
type measurement struct {
	rows                     int64
	heap, total, toast, idx  int64
	tuple, header, data      float64
	vacuumMs, countMs, aggMs float64
	rowsPerS                 float64
}

// Run loads one layout, measures it and drops it.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	order, ok := s.orders[pt.Variant]
	if !ok {
		return result.Series{}, fmt.Errorf("column-padding: unknown variant %q", pt.Variant)
	}
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return result.Series{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	table := "colpad_" + pt.Variant
	qt := pgx.Identifier{table}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+qt+"; "+s.createSQL(table, order)); err != nil {
		return result.Series{}, fmt.Errorf("column-padding: create %s: %w", table, err)
	}
	defer func() {
		if pt.Variant == Careless && s.both && s.careless != nil {
			return // the aligned point times its scans against it, then drops it
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP TABLE IF EXISTS "+qt+", "+pgx.Identifier{"colpad_" + Careless}.Sanitize())
	}()
	// Start each load from a checkpoint, so that neither table pays for writing out the other's
	// pages. A dsn target's user may lack the privilege (pg_checkpoint); the load goes on.
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		env.Logf("column-padding: no CHECKPOINT before loading %s (%v): the other table's dirty pages may slow it", table, err)
	}
	p := env.Params
	rows := int64(p.Int("rows"))
	ld, err := s.load(ctx, conn, env, table, order, uint64(p.Int("seed")), rows, int64(p.Int("batch")))
	series := ld.series(rows)
	if err != nil {
		return series, err
	}
	m := &measurement{rows: rows, rowsPerS: series.ThroughputPerS}
	est, err := s.measure(ctx, conn, table, order, m)
	if err != nil {
		return series, err
	}
	// The aligned table's scans are timed in turns with the careless table's, so that both see
	// the same machine; a layout run alone is timed alone.
	c := s.careless
	compare := pt.Variant == Aligned && c != nil && c.heap > 0 && c.rows == m.rows
	tables := []string{qt}
	if compare {
		tables = append(tables, pgx.Identifier{"colpad_" + Careless}.Sanitize())
	}
	times, err := s.scans(ctx, conn, p.Int("scans"), tables...)
	if err != nil {
		return series, err
	}
	m.countMs, m.aggMs = times[0][0], times[0][1]

	met := series.Metrics
	met[MetricRows] = float64(m.rows)
	met[MetricColumns] = float64(len(s.layout.cols))
	met[MetricHeapBytes] = float64(m.heap)
	met[MetricTotalBytes] = float64(m.total)
	met[MetricTOASTBytes] = float64(m.toast)
	met[MetricIndexBytes] = float64(m.idx)
	met[MetricBytesPerRow] = float64(m.heap) / float64(m.rows)
	met[MetricTotalBytesPerRow] = float64(m.total) / float64(m.rows)
	met[MetricTupleBytesPerRow] = m.tuple
	// avg() sums in floating point: round off its residue (1e-5 bytes where there is no padding).
	met[MetricPaddingBytesPerRow] = math.Round((m.tuple-m.header-m.data)*100) / 100
	met[MetricPredictedPaddingBytesPerRow] = est.Current.PaddingBytes
	met[MetricPredictedTupleBytesPerRow] = est.Current.TupleBytes
	met[MetricPredictedBytesPerRow] = est.Current.HeapBytesPerRow
	met[MetricPredictedSavingPct] = est.SavingPct
	met[MetricInsertRowsPerS] = m.rowsPerS
	met[MetricVacuumMs] = m.vacuumMs
	met[MetricSeqscanCountMs] = m.countMs
	met[MetricSeqscanAggMs] = m.aggMs
	env.Logf("column-padding %s: heap %s (%.1f B/row, %.1f predicted), total %s, padding %.1f B/row (%.1f predicted), "+
		"%.0f rows/s, VACUUM %.0f ms, count(*) %.1f ms, %s %.1f ms",
		pt.Variant, size(m.heap), met[MetricBytesPerRow], est.Current.HeapBytesPerRow, size(m.total), met[MetricPaddingBytesPerRow],
		est.Current.PaddingBytes, m.rowsPerS, m.vacuumMs, m.countMs, s.agg, m.aggMs)
	if pt.Variant == Careless {
		s.careless = m
	}
	if !compare {
		return series, nil
	}
	cCount, cAgg := times[1][0], times[1][1]
	met[MetricSavingPct] = 100 * float64(c.heap-m.heap) / float64(c.heap)
	met[MetricTotalSavingPct] = 100 * float64(c.total-m.total) / float64(c.total)
	met[MetricTupleSavingPct] = 100 * (c.tuple - m.tuple) / c.tuple
	met[MetricCarelessSeqscanCountMs], met[MetricCarelessSeqscanAggMs] = cCount, cAgg
	met[MetricSeqscanCountRatio] = ratio(m.countMs, cCount)
	met[MetricSeqscanAggRatio] = ratio(m.aggMs, cAgg)
	pr, err := s.probe(ctx, conn, uint64(p.Int("seed")), rows, min(int64(p.Int("batch")), max(rows/10, 1)), p.Int("scans"))
	if err != nil {
		return series, err
	}
	met[MetricInsertRateRatio] = pr.insertRatio
	met[MetricVacuumRatio] = pr.vacuumRatio
	series.Sentence = fmt.Sprintf("reordering saved %.1f%% of heap (%.1f%% with indexes and TOAST)", met[MetricSavingPct], met[MetricTotalSavingPct])
	env.Logf("column-padding: reordering saved %.1f%% of heap (%s -> %s, %.1f -> %.1f B/row) and %.1f%% of the total "+
		"with indexes and TOAST; the article claims 20%%+ on 60+ column tables. Aligned/careless, timed in turns: "+
		"count(*) %.2fx, %s %.2fx, insert rate %.2fx, VACUUM %.2fx",
		met[MetricSavingPct], size(c.heap), size(m.heap), float64(c.heap)/float64(c.rows), met[MetricBytesPerRow],
		met[MetricTotalSavingPct], met[MetricSeqscanCountRatio], s.agg, met[MetricSeqscanAggRatio], met[MetricInsertRateRatio],
		met[MetricVacuumRatio])
	return series, nil
}
