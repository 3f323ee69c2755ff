// Package walretention is the wal-retention scenario: an inactive replication slot holds the WAL
// of a steady write load, and pg_wal grows until the disk is full (the outage the article
// "scaling to 1.2bn records" tells of); max_slot_wal_keep_size invalidates the slot and keeps
// pg_wal bounded. It reports the WAL rate, what pg_wal and the slot held, and how long a disk
// quota lasts at that rate.
package walretention

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

// Name of the scenario.
const Name = "wal-retention"

// Variants.
const (
	VariantNoSlot     = "no-slot"                // the baseline: WAL is recycled at each checkpoint
	VariantUnattended = "unattended-slot"        // a slot nobody reads: every byte of WAL stays
	VariantKeepSize   = "max-slot-wal-keep-size" // the fix: the slot is invalidated past a bound
)

// The write load: a fixed table whose rows are rewritten in batches, so WAL grows steadily while
// the table stays the same size (HOT updates in half-empty pages; autovacuum keeps up).
const (
	loadRows     = 20000 // rows in the table
	loadRowBytes = 400   // payload bytes per row
	loadBatch    = 100   // rows rewritten per operation
	// Both ends of the payload change on each update, so the WAL record carries the whole row
	// (wal_level=logical logs it whole anyway).
	updateSQL = `UPDATE wal_load SET payload = md5(random()::text) || substr(payload, 33, 336) || md5(random()::text)
		WHERE id BETWEEN $1 AND $1 + 99`
)

// minWALSizeMB is min_wal_size on servers pgscale starts: two 16 MB segments, the least allowed,
// so pg_wal without a slot shrinks back quickly.
const minWALSizeMB = 32

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct{ cfg config }

// config is the validated parameters.
type config struct {
	quotaMB, diskMB float64
	keepMB, maxWALM int
	writeMBs        float64
	workers         int
	slotKind        string
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "an unattended replication slot holds WAL until the disk is full; max_slot_wal_keep_size bounds it",
		Shows: "An inactive replication slot (logical, as a forgotten subscriber or CDC connector leaves, " +
			"or physical, as a replica that went away) holds every byte of WAL a steady write load writes: " +
			"pg_wal grows at the WAL rate, past any disk quota, while without a slot checkpoints recycle it. " +
			"With max_slot_wal_keep_size (a reload, no restart) the slot is invalidated (wal_status 'lost') " +
			"and pg_wal stays bounded. Reports the WAL rate in MB/s, pg_wal and the slot's retained WAL " +
			"(start, peak, end), when the slot was invalidated, and how long the quota and a disk of " +
			"--set disk last at the measured rate. On servers pgscale starts, checkpoints come every " +
			"max_wal_size of WAL or 30 s, so the contrast shows in seconds. pg_wal stays on the server's " +
			"own disk: the quota is a line the growth is measured against, not a volume that fills. " +
			"Against a dsn target it creates a slot (so it needs --allow-intrusive) and drops it on every " +
			"path, Ctrl-C included; the server's own max_slot_wal_keep_size applies there.",
		Variants: []string{VariantNoSlot, VariantUnattended, VariantKeepSize},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(VariantNoSlot, VariantUnattended, VariantKeepSize),
			{Name: "quota", Kind: scenarios.KindString, Default: "512MB", Quick: "96MB",
				Help: "the disk space pg_wal may take (kB, MB, GB, TB): the line the growth is measured against"},
			{Name: "disk", Kind: scenarios.KindString, Default: "50GB",
				Help: "a disk of your own: how long it lasts at the measured WAL rate with an unattended slot"},
			{Name: "keep_size", Kind: scenarios.KindString, Default: "128MB", Quick: "32MB",
				Help: "max_slot_wal_keep_size of the max-slot-wal-keep-size variant, in whole MB or GB"},
			{Name: "max_wal_size", Kind: scenarios.KindString, Default: "64MB", Quick: "32MB",
				Help: "max_wal_size on servers pgscale starts (at least 32MB): checkpoints come this often"},
			{Name: "write_mb_s", Kind: scenarios.KindFloat, Default: "8", Quick: "10", Min: 0,
				Help: "row data rewritten per second (MB/s), which paces the load; 0 runs it as fast as the workers go (--rate overrides)"},
			{Name: "workers", Kind: scenarios.KindInt, Default: "2", Min: 1, Help: "writing sessions"},
			{Name: "slot", Kind: scenarios.KindString, Default: slotLogical, Choices: []string{slotLogical, slotPhysical},
				Help: "the kind of slot left unattended: logical (pgoutput; needs wal_level=logical) or physical"},
		},
		Headline:     &report.Headline{Metric: MetricPgWALPeakMB, Label: "peak pg_wal size", Unit: "MB", Better: report.BetterLower, NoLatencySLO: true},
		Intrusive:    true,
		IntrusiveWhy: "it creates a replication slot that holds the server's WAL while it runs",
		Duration:     60 * time.Second, Warmup: 0,
		QuickDuration: 10 * time.Second, QuickWarmup: 0,
	}
}

// Plan validates the sizes and asks servers pgscale starts for wal_level=logical (it needs a
// restart, so it is set at start) and frequent checkpoints.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	var errs []error
	size := func(name string, wholeMB bool, minMB float64) float64 {
		v := p.String(name)
		b, ok := parseSize(v)
		switch {
		case !ok:
			errs = append(errs, usage.Fieldf("set", "%s=%s: not a size; give a number and a unit, e.g. 256MB, 50GB (kB, MB, GB, TB; at most 1024TB)", name, v))
		case wholeMB && math.Mod(b, mib) != 0:
			errs = append(errs, usage.Fieldf("set", "%s=%s: give a whole number of MB (PostgreSQL's unit for it), e.g. 64MB", name, v))
		case b/mib < minMB:
			errs = append(errs, usage.Fieldf("set", "%s=%s: must be at least %gMB", name, v, minMB))
		}
		return b / mib
	}
	s.cfg = config{
		quotaMB:  size("quota", false, 1),
		diskMB:   size("disk", false, 1),
		keepMB:   int(size("keep_size", true, 1)),
		maxWALM:  int(size("max_wal_size", true, minWALSizeMB)),
		writeMBs: p.Float("write_mb_s"),
		workers:  p.Int("workers"),
		slotKind: p.String("slot"),
	}
	if len(errs) > 0 {
		return scenarios.Plan{}, usage.Join(errs)
	}
	plan := scenarios.Plan{Settings: map[string]string{
		"checkpoint_timeout": "30s", // the least allowed
		"max_wal_size":       fmt.Sprintf("%dMB", s.cfg.maxWALM),
		"min_wal_size":       fmt.Sprintf("%dMB", minWALSizeMB),
	}}
	if s.cfg.slotKind == slotLogical {
		plan.Settings["wal_level"] = "logical"
	}
	for _, v := range p.Strings("variants") {
		pt := scenarios.Point{Variant: v, Workers: s.cfg.workers, Values: map[string]any{}}
		if v == VariantKeepSize {
			pt.Values["keep_size_mb"] = s.cfg.keepMB
			pt.Settings = map[string]string{"max_slot_wal_keep_size": fmt.Sprintf("%dMB", s.cfg.keepMB)}
		}
		plan.Points = append(plan.Points, pt)
	}
	return plan, nil
}

// Setup creates the table the load rewrites.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	return env.AdminExec(ctx, "create the table wal_load",
		"DROP TABLE IF EXISTS wal_load",
		"CREATE TABLE wal_load (id int PRIMARY KEY, payload text NOT NULL) WITH (fillfactor = 50)",
		fmt.Sprintf("INSERT INTO wal_load SELECT i, repeat(md5(i::text), %d) FROM generate_series(1, %d) i", loadRowBytes/32+1, loadRows),
		fmt.Sprintf("UPDATE wal_load SET payload = substr(payload, 1, %d)", loadRowBytes),
		"VACUUM ANALYZE wal_load",
	)
}

// serverWAL is what the server says about its WAL settings.
type serverWAL struct {
	walLevel         string
	maxWALMB, keepMB float64 // keepMB < 0: max_slot_wal_keep_size is -1, no bound
}

func readServerWAL(ctx context.Context, conn *pgx.Conn) (serverWAL, error) {
	var w serverWAL
	err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
		pg_size_bytes(current_setting('max_wal_size'))::float8 / 1048576,
		CASE WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN -1
			ELSE pg_size_bytes(current_setting('max_slot_wal_keep_size'))::float8 / 1048576 END`).Scan(&w.walLevel, &w.maxWALMB, &w.keepMB)
	if err != nil {
		return w, fmt.Errorf("read the WAL settings: %w", err)
	}
	return w, nil
}

// Run measures one variant: it leaves a slot (or none), runs the write load while a monitor reads
// pg_wal and the slot, and drops the slot on every way out.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (series report.Series, runErr error) {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return series, err
	}
	defer conn.Close(context.Background())
	server, err := readServerWAL(ctx, conn)
	if err != nil {
		return series, err
	}
	wantsSlot := pt.Variant != VariantNoSlot
	if wantsSlot && s.cfg.slotKind == slotLogical && server.walLevel != "logical" {
		return series, fmt.Errorf("wal-retention: this server has wal_level=%s, and a logical slot needs wal_level=logical "+
			"(a restart); run with --set slot=physical, which holds WAL the same way", server.walLevel)
	}
	dsn := env.Target.Kind() == harness.KindDSN
	if !dsn {
		// Start each variant from a recycled pg_wal: what an earlier variant held is released.
		if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
			return series, fmt.Errorf("wal-retention: checkpoint before the run: %w", err)
		}
	}
	slot := slotName(env.Target.Schema())
	if wantsSlot {
		// Dropped on every path out of here, Ctrl-C included, before the target is closed.
		defer func() {
			if err := dropSlotOnExit(ctx, env, slot); err != nil {
				runErr = errors.Join(runErr, err)
			}
		}()
		if err := createSlot(ctx, conn, slot, s.cfg.slotKind); err != nil {
			return series, fmt.Errorf("wal-retention: %w", err)
		}
		env.Logf("wal-retention %s: %s slot %s created, inactive; nothing will read it", pt.Variant, s.cfg.slotKind, slot)
	}
	if pt.Variant == VariantKeepSize && server.keepMB < 0 {
		env.Logf("wal-retention %s: this server has max_slot_wal_keep_size=-1 (no bound); the fix is not in place here", pt.Variant)
	}

	monConn, err := env.AdminConn(ctx)
	if err != nil {
		return series, err
	}
	defer monConn.Close(context.Background())
	mon := &monitor{conn: monConn, slot: slot}
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { defer close(monDone); mon.run(monCtx) }()

	cfg := env.LoadConfig(pt.Workers, loadgen.ConnPool)
	if cfg.Rate == 0 && cfg.Pacer == nil && s.cfg.writeMBs > 0 {
		cfg.Rate = s.cfg.writeMBs * mib / (loadBatch * loadRowBytes)
	}
	out, loadErr := loadgen.Run(ctx, cfg, rewrite)
	stopMon()
	<-monDone
	mon.final(ctx)
	readings, monFailures, lastMonErr := mon.result()
	monErr := lastMonErr
	if len(readings) > 0 {
		monErr = nil // a failed reading now and then loses a point of the curve, not the run
	} else if monErr != nil {
		monErr = fmt.Errorf("wal-retention: the WAL monitor read nothing: %w", monErr)
	}
	if out == nil {
		return series, errors.Join(loadErr, monErr)
	}
	series, err = out.Series()
	if err != nil {
		return series, err
	}
	f := summarize(readings, series.StartedAt, s.cfg, server, wantsSlot)
	f.addMetrics(series.Metrics)
	f.addFillMetrics(series.Metrics, s.cfg, server)
	addTimeline(series.Timeline, readings, series.StartedAt, s.cfg.quotaMB)
	series.Sentence = f.sentence(pt.Variant, s.cfg, server, mon.noWalDir)
	env.Logf("%s", series.Sentence)
	if c := curve(readings, series.StartedAt, s.cfg.quotaMB); c != "" {
		env.Logf("wal-retention %s: %s", pt.Variant, c)
	}
	if monFailures > 0 {
		series.Metrics[MetricWALMonitorErrors] = float64(monFailures)
		if series.ErrorSamples == nil {
			series.ErrorSamples = map[string]string{}
		}
		series.ErrorSamples["wal_monitor"] = lastMonErr.Error()
		env.Logf("wal-retention %s: %d WAL readings failed; the last: %v", pt.Variant, monFailures, lastMonErr)
	}
	return series, errors.Join(loadErr, monErr)
}

// rewrite is one operation of the load: a batch of rows rewritten.
func rewrite(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
	first := w.Rand.Int32N(loadRows-loadBatch+1) + 1
	_, err := conn.Exec(ctx, updateSQL, first)
	return err
}
