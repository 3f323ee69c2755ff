// Package calibrate measures pgscale's load generator against pgbench on one server: select-only's
// prepared lookups against `pgbench -S -M prepared`, on each of pgscale's engines (loadgen/mux, what
// scripts run by default, and the goroutine per worker), and connect-per-operation against
// `pgbench -S -C`, interleaved A B A B so that drift on a shared machine falls on both sides alike. Beside the throughput ratio it
// prints what the gap is made of: each side's client CPU per transaction, their ratio, and a warning
// when either side ran client-bound.
package calibrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
	"github.com/pgscale/pgscale/internal/usage"
)

// Options of a calibration.
type Options struct {
	Clients  int
	Duration time.Duration
	Pairs    int
	Scale    int
	Modes    []string // prepared, connect
	// Engines run the prepared mode, each paired with its own pgbench run: mux, goroutines.
	// Empty means DefaultEngines.
	Engines []string
	// PgbenchPath, when empty, is found on PATH or next to the server binaries.
	PgbenchPath string
	Out         io.Writer
	Log         io.Writer
}

// Modes that can be calibrated.
const (
	ModePrepared = "prepared"
	ModeConnect  = "connect"
)

// Validate reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	if o.Clients <= 0 {
		errs = append(errs, usage.Fieldf("clients", "%d: must be at least 1", o.Clients))
	}
	if o.Duration < time.Second {
		errs = append(errs, usage.Fieldf("duration", "%s: must be at least 1s", o.Duration))
	}
	if o.Pairs < 1 {
		errs = append(errs, usage.Fieldf("pairs", "%d: must be at least 1 (3 or more to see the spread)", o.Pairs))
	}
	if o.Scale < 1 {
		errs = append(errs, usage.Fieldf("scale", "%d: must be at least 1", o.Scale))
	}
	for _, m := range o.Modes {
		if m != ModePrepared && m != ModeConnect {
			errs = append(errs, usage.Fieldf("mode", "%q: valid modes are prepared, connect", m))
		}
	}
	for _, e := range o.Engines {
		if e != EngineMux && e != EngineGoroutines {
			errs = append(errs, usage.Fieldf("engine", "%q: valid engines are mux, goroutines", e))
		}
	}
	return errors.Join(errs...)
}

// Sample is one side of one pair.
type Sample struct {
	TPS          float64 `json:"tps"`
	Transactions int64   `json:"transactions"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	// WallSeconds is how long the side ran, connections included, as CPUSeconds is measured.
	WallSeconds float64 `json:"wall_seconds"`
}

// CPUPer1k is the client CPU time per 1,000 transactions.
func (s Sample) CPUPer1k() float64 {
	if s.Transactions == 0 {
		return 0
	}
	return s.CPUSeconds / float64(s.Transactions) * 1000
}

// Pair is pgscale and pgbench measured back to back.
type Pair struct {
	Mode string `json:"mode"`
	// Engine is what ran pgscale's side: mux or goroutines.
	Engine  string `json:"engine"`
	Pgscale Sample `json:"pgscale"`
	Pgbench Sample `json:"pgbench"`
}

// Ratio is pgscale's throughput over pgbench's.
func (p Pair) Ratio() float64 {
	if p.Pgbench.TPS == 0 {
		return 0
	}
	return p.Pgscale.TPS / p.Pgbench.TPS
}

// Report is a calibration's outcome.
type Report struct {
	Pairs []Pair `json:"pairs"`
}

// MedianRatio is the median of the pairs' ratios for mode on engine.
func (r Report) MedianRatio(mode, engine string) float64 {
	var ratios []float64
	for _, p := range r.Pairs {
		if p.Mode == mode && p.Engine == engine {
			ratios = append(ratios, p.Ratio())
		}
	}
	return median(ratios)
}

// Run calibrates against target, whose schema must be writable (it loads pgbench tables). It
// creates its tables in target's schema only (on a dsn target, the run's schema, which every
// connection of the target's DSN is pinned to, pgbench's included) and leaves dropping them to
// target.Close.
func Run(ctx context.Context, target harness.Target, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	pgbench, err := findPgbench(o.PgbenchPath)
	if err != nil {
		return Report{}, err
	}
	cc, err := harness.ConnConfig(target.DSN())
	if err != nil {
		return Report{}, fmt.Errorf("calibrate: %w", err)
	}
	setupConn, err := loadgen.Connect(ctx, cc, 10*time.Second)
	if err != nil {
		return Report{}, fmt.Errorf("calibrate: %w", err)
	}
	// select-only's setup drops its pgbench_* tables first: it may run only where target says.
	err = checkSchema(ctx, setupConn, target.Schema())
	if err == nil {
		err = selectonly.CreateTables(ctx, setupConn, o.Scale, func(f string, a ...any) { logf(o.Log, f, a...) })
	}
	setupConn.Close(context.Background())
	if err != nil {
		return Report{}, err
	}
	engines, err := usableEngines(ctx, cc, o, o.Out)
	if err != nil {
		return Report{}, err
	}
	ks := kinds(o.Modes, engines)
	var rep Report
	if tlsFirst(cc) && slices.Contains(o.Modes, ModeConnect) {
		fmt.Fprintln(o.Out, "note: sslmode=prefer: every connect asks for TLS first, on both sides; a server without TLS "+
			"costs one more round trip per connect (sslmode=disable avoids it)")
	}
	fmt.Fprintf(o.Out, "pgscale's side on %s\n", engineNotes(engines))
	fmt.Fprintf(o.Out, "%-5s %-9s %-11s %12s %12s %7s %18s %18s %9s\n", "pair", "mode", "engine", "pgscale tps", "pgbench tps",
		"ratio", "pgscale cpu-s/1k", "pgbench cpu-s/1k", "cpu ratio")
	for i := 1; i <= o.Pairs; i++ {
		for _, k := range ks {
			ours, err := runPgscale(ctx, cc, o, k)
			if err != nil {
				return rep, err
			}
			theirs, err := runPgbench(ctx, pgbench, cc, o, k.mode)
			if err != nil {
				return rep, err
			}
			p := Pair{Mode: k.mode, Engine: k.engine, Pgscale: ours, Pgbench: theirs}
			rep.Pairs = append(rep.Pairs, p)
			fmt.Fprintf(o.Out, "%-5d %-9s %-11s %12.0f %12.0f %7.2f %18.4f %18.4f %9.2f\n", i, k.mode, k.engine, ours.TPS, theirs.TPS,
				p.Ratio(), ours.CPUPer1k(), theirs.CPUPer1k(), p.CPURatio())
		}
	}
	for _, k := range ks {
		fmt.Fprintf(o.Out, "median ratio %-9s %-11s %.2f (pgscale / pgbench; goal >= 1.00)\n", k.mode, k.engine, rep.MedianRatio(k.mode, k.engine))
	}
	printGap(o.Out, rep, ks, o.Clients)
	return rep, nil
}

// checkSchema makes sure conn creates and drops unqualified tables in schema and nowhere else:
// on a dsn target, the run's own schema, never the user's public.
func checkSchema(ctx context.Context, conn *pgx.Conn, schema string) error {
	got, err := harness.CurrentSchema(ctx, conn)
	if err != nil {
		return fmt.Errorf("calibrate: current schema: %w", err)
	}
	if got != schema {
		return fmt.Errorf("calibrate: the connection's schema is %s, not the target's %s: refusing to create tables", got, schema)
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// runPgscale runs pgscale's side of one pair: on the mux engine, or on goroutines through
// loadgen.Run.
func runPgscale(ctx context.Context, cc *pgx.ConnConfig, o Options, k kind) (Sample, error) {
	if k.engine == EngineMux {
		return runPgscaleMux(ctx, cc, o, k.mode)
	}
	mode := k.mode
	// Each pgbench client holds its own connection; so does each worker here.
	cfg := loadgen.Config{Workers: o.Clients, Duration: o.Duration, ConnConfig: cc, ConnMode: loadgen.ConnPerWorker}
	execMode := pgx.QueryExecModeCacheStatement
	if mode == ModeConnect {
		// pgbench -C uses the simple protocol unless told otherwise.
		cfg.ConnMode = loadgen.ConnPerOp
		execMode = pgx.QueryExecModeSimpleProtocol
	}
	before, started := selfCPU(), time.Now()
	out, err := loadgen.Run(ctx, cfg, selectonly.Lookup(int32(o.Scale*100000), execMode))
	cpu, wall := selfCPU()-before, time.Since(started).Seconds()
	if err != nil {
		return Sample{}, fmt.Errorf("calibrate pgscale %s on goroutines: %w", mode, err)
	}
	return sample(out, cpu, wall, mode+" on goroutines")
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

var (
	tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(`)
	txLine  = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
)

func runPgbench(ctx context.Context, pgbench string, cc *pgx.ConnConfig, o Options, mode string) (Sample, error) {
	threads := min(o.Clients, runtime.NumCPU())
	args := []string{"-n", "-S", "-c", strconv.Itoa(o.Clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(int(o.Duration.Seconds()))}
	if mode == ModeConnect {
		args = append(args, "-C")
	} else {
		args = append(args, "-M", "prepared")
	}
	// The password goes by PGPASSWORD, not on pgbench's command line.
	if arg := harness.WithoutPassword(cc.ConnString()); arg != "" {
		args = append(args, arg)
	}
	cmd := exec.CommandContext(ctx, pgbench, args...)
	cmd.Env = harness.LibpqEnv(os.Environ(), cc, "pgscale-calibrate")
	started := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(started).Seconds()
	if err != nil {
		return Sample{}, fmt.Errorf("calibrate pgbench %s: %w: %s", mode, err, harness.RedactDSN(string(out)))
	}
	m := tpsLine.FindSubmatch(out)
	t := txLine.FindSubmatch(out)
	if t != nil && string(t[1]) == "0" {
		// pgbench prints no tps then. Its clients connect inside its -T, so on a machine too
		// busy to start them in time the pair is empty (seen once at 1 s on a starved 2 cores).
		return Sample{}, fmt.Errorf("calibrate pgbench %s: pgbench finished no transaction in %s with %d clients: "+
			"the machine or the server was too busy for a pair this short; give a longer --duration", mode, o.Duration, o.Clients)
	}
	if m == nil || t == nil {
		return Sample{}, fmt.Errorf("calibrate pgbench %s: no tps in its output: %s", mode, harness.RedactDSN(string(out)))
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	tx, _ := strconv.ParseInt(string(t[1]), 10, 64)
	var cpu float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	return Sample{TPS: tps, Transactions: tx, CPUSeconds: cpu, WallSeconds: wall}, nil
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

func findPgbench(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	p, err := harness.FindPgbench()
	if err != nil {
		return "", fmt.Errorf("calibrate: %w", err)
	}
	return p, nil
}
