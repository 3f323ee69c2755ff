package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/montanaflynn/stats"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/usage"
)

// CompareOptions configure CompareCopy. Zero values take the defaults named on each field.
type CompareOptions struct {
	// Rows loaded by each side of a pair (default 2,000,000).
	Rows int
	// Batch is the copy variant's rows per COPY statement, each its own transaction. The default,
	// 0, loads every row in one COPY, as psql loads the file: both sides then commit once, and the
	// ratio compares the two client paths (CSV text against pgx's binary COPY). A batch of 10,000
	// (the scenario's largest) adds a commit, a WAL flush and a round trip per batch; on a shared
	// machine whose disk other servers keep busy, those cost as much as the rest.
	Batch int
	// Pairs of psql, then pgscale, loads (default 3).
	Pairs int
	// Payload bytes per event (default 200, the scenario's).
	Payload int
	// Indexes as the scenario's parameter: 1 (primary key) or 2 (and (user_id, created_at)), the
	// default; NoIndexes for a bare heap (0 means the default).
	Indexes int
	// PsqlPath, when empty, is psql from PATH.
	PsqlPath string
	// Out receives one line per pair and the median ratio; nil discards them.
	Out io.Writer
}

// Defaults of CompareOptions.
const (
	DefaultCompareRows  = 2_000_000
	DefaultComparePairs = 3
)

// NoIndexes asks CompareCopy for a table without indexes.
const NoIndexes = -1

// compareSeed makes the generated rows the same on both sides and in every comparison.
const compareSeed = 20180601

// withDefaults fills zero fields.
func (o CompareOptions) withDefaults() CompareOptions {
	if o.Rows == 0 {
		o.Rows = DefaultCompareRows
	}
	if o.Batch == 0 {
		o.Batch = o.Rows
	}
	if o.Pairs == 0 {
		o.Pairs = DefaultComparePairs
	}
	if o.Payload == 0 {
		o.Payload = 200
	}
	switch o.Indexes {
	case 0:
		o.Indexes = 2
	case NoIndexes:
		o.Indexes = 0
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// Validate reports every problem with o (after defaults) at once, as usage errors.
func (o CompareOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Rows < 1 {
		errs = append(errs, usage.Errorf("copy comparison rows %d: must be at least 1", o.Rows))
	}
	if o.Batch < 1 {
		errs = append(errs, usage.Errorf("copy comparison batch %d: must be at least 1 (0: every row in one COPY)", o.Batch))
	}
	if o.Pairs < 1 {
		errs = append(errs, usage.Errorf("copy comparison pairs %d: must be at least 1 (3 or more to see the spread)", o.Pairs))
	}
	if o.Payload < 0 || o.Payload > maxPayload {
		errs = append(errs, usage.Errorf("copy comparison payload %d: must be between 1 and %d bytes (0: 200)", o.Payload, maxPayload))
	}
	if o.Indexes < 0 || o.Indexes > 2 {
		errs = append(errs, usage.Errorf("copy comparison indexes %d: valid are 1, 2, and NoIndexes (-1) for none (0: 2)", o.Indexes))
	}
	return errors.Join(errs...)
}

// CopySample is one load of the comparison: its wall time (connecting included) and rows/s.
type CopySample struct {
	Seconds  float64 `json:"seconds"`
	RowsPerS float64 `json:"rows_per_s"`
}

// CopyPair is psql and the copy variant loading the same rows back to back.
type CopyPair struct {
	Psql    CopySample `json:"psql"`
	Pgscale CopySample `json:"pgscale"`
}

// Ratio is the copy variant's rows/s over psql's.
func (p CopyPair) Ratio() float64 {
	if p.Psql.RowsPerS == 0 {
		return 0
	}
	return p.Pgscale.RowsPerS / p.Psql.RowsPerS
}

// CopyComparison is the outcome of CompareCopy.
type CopyComparison struct {
	Rows     int        `json:"rows"`
	Batch    int        `json:"batch"`
	Payload  int        `json:"payload_bytes"`
	Indexes  int        `json:"indexes"`
	CSVBytes int64      `json:"csv_bytes"`
	Pairs    []CopyPair `json:"pairs"`
	// MedianRatio is the median of the pairs' ratios: the figure to hold against the goal of 1.0.
	MedianRatio float64 `json:"median_ratio"`
}

// CompareCopy measures the copy variant against `psql \copy` on target: it generates opts.Rows
// events once and writes them as CSV to a temporary file; then, opts.Pairs times, it loads the
// file into an empty events table with `psql -c "\copy events (…) FROM file WITH (FORMAT csv)"`
// (psql from PATH or opts.PsqlPath, with target.DSN() as its connection string), and loads the
// same events into the emptied table with the copy variant's code: pgx's binary CopyFrom on one
// connection, generating the events as it sends them, in one COPY or in batches of opts.Batch.
// Each load starts after TRUNCATE and CHECKPOINT, is timed from connecting to the last commit,
// and must leave the same rows (a fingerprint of ids, users, kinds, payloads and times is
// compared). It prints a line per pair and returns both rates and the median of the pairs'
// ratios (pgscale / psql); the goal is at least 1.0.
//
// The table is created in target.Schema() and dropped at the end. `pgscale calibrate` can run it
// beside the pgbench comparisons: start a target as it does, call CompareCopy with Out set to its
// output, and print or store the CopyComparison.
func CompareCopy(ctx context.Context, target harness.Target, opts CompareOptions) (CopyComparison, error) {
	if err := opts.Validate(); err != nil {
		return CopyComparison{}, err
	}
	o := opts.withDefaults()
	res := CopyComparison{Rows: o.Rows, Batch: o.Batch, Payload: o.Payload, Indexes: o.Indexes}
	psql, err := findPsql(o.PsqlPath)
	if err != nil {
		return res, err
	}
	cc, err := harness.ConnConfig(target.DSN())
	if err != nil {
		return res, fmt.Errorf("copy comparison: %w", err)
	}
	schema := target.Schema()
	if schema == "" {
		schema = "public"
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["search_path"] = schema
	table := pgx.Identifier{schema, tableName}

	admin, err := loadgen.Connect(ctx, cc, 10*time.Second)
	if err != nil {
		return res, fmt.Errorf("copy comparison: %w", err)
	}
	defer admin.Close(context.Background())
	if err := execAll(ctx, admin, schemaSQL(false, o.Indexes)); err != nil {
		return res, fmt.Errorf("copy comparison setup: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(cctx, "DROP TABLE IF EXISTS "+table.Sanitize())
	}()

	csvFile, err := os.CreateTemp("", "pgscale-ingest-*.csv")
	if err != nil {
		return res, fmt.Errorf("copy comparison: %w", err)
	}
	csvPath := csvFile.Name()
	defer os.Remove(csvPath)
	res.CSVBytes, err = writeCSV(csvFile, compareGen(o.Payload), o.Rows)
	if cerr := csvFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("copy comparison: write %s: %w", csvPath, err)
	}

	how := "in one COPY"
	if o.Batch < o.Rows {
		how = "in COPYs of " + formatCount(int64(o.Batch)) + " rows"
	}
	fmt.Fprintf(o.Out, "copy vs psql \\copy: %s rows of %.0f bytes of event data, indexes %d; pgscale loads them %s, psql the CSV file in one COPY\n",
		formatCount(int64(o.Rows)), eventBytes(o.Payload), o.Indexes, how)
	fmt.Fprintf(o.Out, "%-5s %14s %16s %7s\n", "pair", "psql rows/s", "pgscale rows/s", "ratio")
	var want string
	for i := 1; i <= o.Pairs; i++ {
		var pair CopyPair
		for _, side := range []string{"psql", "pgscale"} {
			if err := resetTable(ctx, admin, table); err != nil {
				return res, err
			}
			started := time.Now()
			if side == "psql" {
				err = psqlCopy(ctx, psql, cc, table, csvPath)
			} else {
				err = pgscaleCopy(ctx, cc, table, o)
			}
			elapsed := time.Since(started)
			if err != nil {
				return res, err
			}
			got, err := fingerprint(ctx, admin, table)
			if err != nil {
				return res, err
			}
			if want == "" {
				want = got
			} else if got != want {
				return res, fmt.Errorf("copy comparison: %s loaded other rows than the first load (fingerprint %s, want %s)", side, got, want)
			}
			sample := CopySample{Seconds: elapsed.Seconds(), RowsPerS: float64(o.Rows) / elapsed.Seconds()}
			if side == "psql" {
				pair.Psql = sample
			} else {
				pair.Pgscale = sample
			}
		}
		res.Pairs = append(res.Pairs, pair)
		fmt.Fprintf(o.Out, "%-5d %14.0f %16.0f %7.2f\n", i, pair.Psql.RowsPerS, pair.Pgscale.RowsPerS, pair.Ratio())
	}
	res.MedianRatio = medianRatio(res.Pairs)
	fmt.Fprintf(o.Out, "median ratio %.2f (pgscale copy / psql \\copy; goal >= 1.00)\n", res.MedianRatio)
	return res, nil
}

// compareGen is the generator both sides of the comparison draw the same events from: a fixed
// seed, and times one millisecond apart from a fixed instant.
func compareGen(payload int) *eventGen {
	base := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	return &eventGen{
		rnd:     rand.New(rand.NewPCG(compareSeed, compareSeed)),
		payload: payload,
		clock:   func(id int64) time.Time { return base.Add(time.Duration(id) * time.Millisecond) },
	}
}

// writeCSV writes events 1..rows as CSV in the table's column order and returns the bytes written.
// Kinds and payloads hold no comma, quote or newline, so no field needs quoting.
func writeCSV(w io.Writer, gen *eventGen, rows int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var ev event
	var line []byte
	var total int64
	for id := int64(1); id <= int64(rows); id++ {
		gen.fill(&ev, id)
		line = strconv.AppendInt(line[:0], ev.id, 10)
		line = append(line, ',')
		line = ev.at.UTC().AppendFormat(line, "2006-01-02 15:04:05.999999")
		line = append(line, "+00,"...)
		line = strconv.AppendInt(line, ev.user, 10)
		line = append(line, ',')
		line = append(line, ev.kind...)
		line = append(line, ',')
		line = append(line, ev.payload...)
		line = append(line, '\n')
		n, err := bw.Write(line)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, bw.Flush()
}

func resetTable(ctx context.Context, conn *pgx.Conn, table pgx.Identifier) error {
	if err := execAll(ctx, conn, []string{"TRUNCATE " + table.Sanitize()}); err != nil {
		return fmt.Errorf("copy comparison reset: %w", err)
	}
	if _, err := checkpoint(ctx, conn); err != nil {
		return fmt.Errorf("copy comparison reset: %w", err)
	}
	return nil
}

// psqlCopy loads path with psql's \copy, as a user would.
func psqlCopy(ctx context.Context, psql string, cc *pgx.ConnConfig, table pgx.Identifier, path string) error {
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	command := fmt.Sprintf(`\copy %s (%s) FROM '%s' WITH (FORMAT csv)`, table.Sanitize(), strings.Join(cols, ", "),
		strings.ReplaceAll(path, "'", "''"))
	// The password goes by PGPASSWORD, never on psql's command line.
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command}
	if arg := harness.WithoutPassword(cc.ConnString()); arg != "" {
		args = append(args, "-d", arg)
	}
	cmd := exec.CommandContext(ctx, psql, args...)
	cmd.Env = harness.LibpqEnv(os.Environ(), cc, "pgscale-ingest-copy")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copy comparison: psql \\copy: %w: %s", err, harness.RedactDSN(strings.TrimSpace(string(out))))
	}
	return nil
}

// pgscaleCopy loads the same events with the copy variant's code on a connection of its own.
func pgscaleCopy(ctx context.Context, cc *pgx.ConnConfig, table pgx.Identifier, o CompareOptions) error {
	conn, err := loadgen.Connect(ctx, cc, 10*time.Second)
	if err != nil {
		return fmt.Errorf("copy comparison: %w", err)
	}
	defer conn.Close(context.Background())
	src := newGenSource(compareGen(o.Payload))
	for first := 1; first <= o.Rows; first += o.Batch {
		n := min(o.Batch, o.Rows-first+1)
		src.reset(int64(first), n)
		if err := copyRows(ctx, conn, table, src, n); err != nil {
			return fmt.Errorf("copy comparison: pgscale copy: %w", err)
		}
	}
	return nil
}

// fingerprint sums what identifies the table's rows, so that both sides are seen to load the same.
func fingerprint(ctx context.Context, conn *pgx.Conn, table pgx.Identifier) (string, error) {
	var fp string
	err := conn.QueryRow(ctx, `SELECT concat_ws('/', count(*), sum(id), sum(user_id), sum(hashtext(kind || payload)::bigint),
  sum(extract(epoch FROM created_at))) FROM `+table.Sanitize()).Scan(&fp)
	if err != nil {
		return "", fmt.Errorf("copy comparison fingerprint: %w", err)
	}
	return fp, nil
}

func medianRatio(pairs []CopyPair) float64 {
	if len(pairs) == 0 {
		return 0
	}
	ratios := make([]float64, len(pairs))
	for i, p := range pairs {
		ratios[i] = p.Ratio()
	}
	m, _ := stats.Median(ratios)
	return m
}

func findPsql(path string) (string, error) {
	if path != "" {
		if _, err := exec.LookPath(path); err != nil {
			return "", usage.Errorf("psql %q: not found or not executable", path)
		}
		return path, nil
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	return "", errors.New("copy comparison: psql not found on PATH; install it (apt-get install postgresql-client, brew install libpq) or give its path")
}
