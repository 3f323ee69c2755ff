package columnpadding

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/runner/runnertest"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// paddingTolerance is how far, in bytes per row, the analyzer's predicted padding may be from
// what pg_column_size measures on the generated table: the model takes variable-length values as
// spread evenly modulo 8, which on this table costs it about a byte.
const paddingTolerance = 3.0

// run drives the scenario through the runner on the package's shared server, in a schema of the
// run's own (the dsn target drops it on every path), checks the result file against the schema,
// and returns the series by variant.
func run(t *testing.T, sets map[string]string) map[string]result.Series {
	t.Helper()
	out := t.TempDir()
	res := runnertest.Run(t, runner.Options{Scenario: Name, Sets: sets, Target: harness.KindDSN, DSN: harnesstest.DSN(t), Repeat: 1, Warmup: -1, Out: out})
	return runnertest.ByVariant(res)
}

// TestAlignedTableIsSmaller is the phenomenon: the same rows take less heap with the columns in
// alignment order, the padding measured by pg_column_size is what the analyzer predicts, and the
// aligned layout has none.
func TestAlignedTableIsSmaller(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	series := run(t, map[string]string{"rows": "20000", "scans": "1"})
	careless, aligned := series[Careless], series[Aligned]
	if careless.Ops != 20000 || aligned.Ops != 20000 {
		t.Fatalf("rows loaded: careless %d, aligned %d, want 20000 each", careless.Ops, aligned.Ops)
	}
	c, a := careless.Metrics, aligned.Metrics
	for _, s := range []result.Series{careless, aligned} {
		m := s.Metrics
		t.Logf("%-8s heap %8.0f  total %8.0f  %6.1f B/row (predicted %6.1f)  padding %5.1f (predicted %5.1f)  %7.0f rows/s",
			s.Variant, m[MetricHeapBytes], m[MetricTotalBytes], m[MetricBytesPerRow], m[MetricPredictedBytesPerRow],
			m[MetricPaddingBytesPerRow], m[MetricPredictedPaddingBytesPerRow], m[MetricInsertRowsPerS])
		if d := math.Abs(m[MetricPaddingBytesPerRow] - m[MetricPredictedPaddingBytesPerRow]); d > paddingTolerance {
			t.Errorf("%s: padding measured %.2f B/row, predicted %.2f: more than %.0f bytes apart", s.Variant,
				m[MetricPaddingBytesPerRow], m[MetricPredictedPaddingBytesPerRow], paddingTolerance)
		}
		if len(s.Timeline) == 0 || s.ThroughputPerS <= 0 {
			t.Errorf("%s: timeline of %d seconds, %.0f rows/s", s.Variant, len(s.Timeline), s.ThroughputPerS)
		}
	}
	if c[MetricPaddingBytesPerRow] < 16 {
		t.Errorf("careless layout has %.1f bytes of padding per row; the generated table should have more than 16", c[MetricPaddingBytesPerRow])
	}
	if a[MetricPaddingBytesPerRow] > 0.5 {
		t.Errorf("aligned layout has %.2f bytes of padding per row, want none", a[MetricPaddingBytesPerRow])
	}
	if !(a[MetricHeapBytes] < c[MetricHeapBytes]) || a[MetricSavingPct] <= 0 {
		t.Errorf("aligned heap %.0f bytes, careless %.0f, saving %.1f%%: the aligned table should be smaller",
			a[MetricHeapBytes], c[MetricHeapBytes], a[MetricSavingPct])
	}
	t.Logf("saving %.1f%% of heap, %.1f%% of total; analyzer predicted %.1f%%", a[MetricSavingPct], a[MetricTotalSavingPct], c[MetricPredictedSavingPct])
	if d := math.Abs(c[MetricPredictedSavingPct] - a[MetricSavingPct]); d > 2 {
		t.Errorf("analyzer predicted a %.1f%% saving, the reordered table saved %.1f%%", c[MetricPredictedSavingPct], a[MetricSavingPct])
	}
}

// TestUserDDL runs the scenario on a table given as a file, an adversarial one (bool, int8, bool,
// int8…) with a text and an enum column and a primary key that is not first. It does not run in
// parallel: the setup takes the one table that appears in the database while the file runs, and
// a parallel test's table on the shared server would be a second.
func TestUserDDL(t *testing.T) {
	harnesstest.RequirePostgres(t)
	path := filepath.Join(t.TempDir(), "orders.sql")
	ddl := `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE orders (
  paid bool NOT NULL, total int8 NOT NULL, shipped bool, weight int8, gift bool NOT NULL,
  id int4 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note varchar(40), m mood, placed timestamptz NOT NULL,
  doubled int8 GENERATED ALWAYS AS (total * 2) STORED
);`
	if err := os.WriteFile(path, []byte(ddl), 0o644); err != nil {
		t.Fatal(err)
	}
	series := run(t, map[string]string{"rows": "5000", "scans": "1", "ddl": path})
	c, a := series[Careless].Metrics, series[Aligned].Metrics
	if c[MetricColumns] != 10 || series[Careless].Point["ddl"] != "orders.sql" {
		t.Errorf("careless: %v columns, point %v; want the file's 10 columns", c[MetricColumns], series[Careless].Point)
	}
	if !(a[MetricHeapBytes] < c[MetricHeapBytes]) {
		t.Errorf("aligned heap %.0f bytes, careless %.0f: the aligned table should be smaller", a[MetricHeapBytes], c[MetricHeapBytes])
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.sql")
	empty := filepath.Join(t.TempDir(), "empty.sql")
	if err := os.WriteFile(empty, []byte("SELECT 1;"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"ddl": missing}, "--set ddl=" + missing + ": cannot read it: no such file or directory"},
		{map[string]string{"ddl": empty}, "it has no CREATE TABLE statement"},
		{map[string]string{"columns": "4"}, "--set columns=4: must be at least 8"},
		{map[string]string{"columns": "900"}, "--set columns=900: at most 500"},
		{map[string]string{"rows": "many"}, "--set rows=many: not a whole number"},
		{map[string]string{"variants": "padded"}, "valid values are careless, aligned"},
	} {
		_, err := runner.Prepare(runner.Options{Scenario: Name, Sets: c.sets, Target: harness.KindLocal, Repeat: 1, Out: t.TempDir()}, time.Now())
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want a usage error containing %q", c.sets, err, c.want)
		}
	}
}

// TestGeneratedLayoutIsRealisticAndSeeded checks the careless layout: every type of the mix is
// there, misaligned neighbours are common, and a seed gives the same layout every time.
func TestGeneratedLayoutIsRealisticAndSeeded(t *testing.T) {
	t.Parallel()
	l := generatedLayout(64, 1)
	if len(l.cols) != 64 {
		t.Fatalf("%d columns, want 64", len(l.cols))
	}
	types := map[string]bool{}
	nullableText := false
	for _, c := range l.cols {
		types[c.def] = true
		nullableText = nullableText || (c.def == "text" && !c.notNull)
	}
	for _, want := range []string{"bool", "int2", "int4", "int8", "float8", "numeric(12,2)", "timestamptz", "date", "uuid", "text", "jsonb"} {
		if !types[want] {
			t.Errorf("no %s column in the generated layout", want)
		}
	}
	if !nullableText {
		t.Error("no nullable text column in the generated layout")
	}
	a, _ := json.Marshal(names(generatedLayout(64, 1)))
	b, _ := json.Marshal(names(l))
	d, _ := json.Marshal(names(generatedLayout(64, 2)))
	if string(a) != string(b) || string(a) == string(d) {
		t.Error("the layout is not a function of its seed")
	}
}

func names(l layout) []string {
	var out []string
	for _, c := range l.cols {
		out = append(out, c.name+" "+c.def)
	}
	return out
}
