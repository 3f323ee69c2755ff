// Package matview is the matview-refresh scenario: what keeping an aggregate up to date costs as
// its base table grows. It replays "Lessons learned scaling PostgreSQL database to 1.2bn
// records/month" (../shared/seeds/scaling-to-1.2bn-records.txt): materialized views whose refresh
// time grew "from a couple of seconds to hours" as the tables grew, replaced first by smaller
// views and then by materialized columns updated row by row.
//
// Each point builds an events table of `rows` rows and a per-account summary of it, then, while
// readers query the summary and a writer inserts events at a steady rate, keeps the summary up to
// date one of three ways: REFRESH MATERIALIZED VIEW (ACCESS EXCLUSIVE on the view: readers wait
// for the whole refresh), REFRESH MATERIALIZED VIEW CONCURRENTLY (EXCLUSIVE: readers go on, the
// refresh takes longer), or the article's alternative, a worker that claims new events in small
// batches with FOR UPDATE SKIP LOCKED, stamps their materialized_at column and adds them to a
// summary table. Refresh time grows with the table; the worker's batch time does not.
package matview

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "matview-refresh"

// Variants.
const (
	VariantPlain       = "plain"
	VariantConcurrent  = "concurrent"
	VariantIncremental = "incremental"
)

// Lock modes the refreshes take on the view, as pg_locks names them.
const (
	lockAccessExclusive = "AccessExclusiveLock"
	lockExclusive       = "ExclusiveLock"
)

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct {
	growth growthTracker
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "materialized view refresh as the base table grows: plain vs CONCURRENTLY vs an incremental SKIP LOCKED worker",
		Shows: "Each point builds events (rows rows over rows/100 accounts) and a per-account summary, then for --duration " +
			"runs readers (lookups of one account's summary, paced at read_rate, latency from the intended start) and a " +
			"writer (write_rate new events per second) while the summary is kept up to date. plain: REFRESH MATERIALIZED " +
			"VIEW back to back (it takes ACCESS EXCLUSIVE on the view, so readers wait for the whole refresh); " +
			"concurrent: REFRESH MATERIALIZED VIEW CONCURRENTLY (EXCLUSIVE, needs the unique index it has: readers go " +
			"on); incremental: the article's alternative, a worker that claims new events in batches of batch with " +
			"FOR UPDATE SKIP LOCKED through a partial index on materialized_at IS NULL, stamps materialized_at and adds " +
			"them to a summary table. Ops are refreshes (or batches) and latency is their duration, so the sweep " +
			"plot's p99 panel is refresh time against rows on log-log axes when it spans enough; the timeline's p50 " +
			"and p99 are the readers', beside refreshing (0/1), readers_waiting and pending_rows. Metrics: refresh_ms " +
			"(median refresh, or batch), up_to_date_ms (how long until the summary reflects the writes: a refresh, or " +
			"the worker draining what is pending when the writer stops), growth_exponent (slope of log refresh_ms " +
			"against log rows over the variant's sweep: 1 grows like the table, 0 not at all), the lock the refresh " +
			"held (refresh_lock_access_exclusive, refresh_lock_exclusive), readers_waiting_max (sessions seen waiting " +
			"on a lock on the view), reader and writer p99 before the first refresh and during refreshes, and the " +
			"worker's rows_per_batch and max_pending_rows.",
		Variants: []string{VariantPlain, VariantConcurrent, VariantIncremental},
		Headline: &result.Headline{Metric: MetricRefreshMs, Label: "refresh time (a batch, for incremental)", Unit: "ms",
			Better: result.BetterLower, NoLatencySLO: true},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(VariantPlain, VariantConcurrent, VariantIncremental),
			{Name: "rows", Kind: scenarios.KindInt, List: true, Default: "100000,300000,1000000", Quick: "10000,100000", Min: 1000,
				Help: "rows in the events table, one point each"},
			{Name: "read_rate", Kind: scenarios.KindFloat, Default: "200", Min: 1,
				Help: "summary lookups per second, from 2 readers"},
			{Name: "write_rate", Kind: scenarios.KindFloat, Default: "200", Min: 1,
				Help: "events inserted per second, in batches of 10"},
			{Name: "batch", Kind: scenarios.KindInt, Default: "500", Min: 1,
				Help: "incremental: events the worker claims per batch"},
			{Name: "before", Kind: scenarios.KindDuration, Default: "2s", Quick: "1s", Min: 0.2,
				Help: "how long readers and the writer run before the first refresh (the baseline)"},
		},
		Intrusive:      true, // ACCESS EXCLUSIVE on its own view, and tables of millions of rows
		ClosedLoopOnly: true,
		Duration:       10 * time.Second, Warmup: 0,
		QuickDuration: 4 * time.Second, QuickWarmup: 0,
	}
}

// Plan validates the parameters: rows slowest, so that a variant's points come in size order.
func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	rows := p.Ints("rows")
	sorted := slices.Clone(rows)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(rows) {
		return scenarios.Plan{}, usage.Fieldf("set", "rows=%s: each size once", strings.Join(p.Strings("rows"), ","))
	}
	var plan scenarios.Plan
	for _, v := range scenarios.Product(scenarios.IntDim("rows", rows), scenarios.StringDim("variant", p.Strings("variants"))) {
		plan.Points = append(plan.Points, scenarios.Point{Variant: v["variant"].(string),
			Values: map[string]any{"rows": v["rows"]}, Workers: readers + 1})
	}
	return plan, nil
}

// growthTracker fits, per variant, the slope of log(refresh_ms) against log(rows) over the
// points measured so far, and writes it into every one of their series' metrics (maps the runner
// keeps), so that the variant's last series has it over the whole sweep.
type growthTracker struct {
	points map[string][]growthPoint
}

type growthPoint struct {
	rows, ms float64
	metrics  map[string]float64
}

func (g *growthTracker) note(variant string, rows, ms float64, metrics map[string]float64) {
	if rows <= 0 || ms <= 0 {
		return
	}
	if g.points == nil {
		g.points = map[string][]growthPoint{}
	}
	g.points[variant] = append(g.points[variant], growthPoint{rows: rows, ms: ms, metrics: metrics})
	slope, ok := logSlope(g.points[variant])
	if !ok {
		return
	}
	for _, p := range g.points[variant] {
		p.metrics[MetricGrowthExponent] = math.Round(slope*100) / 100
	}
}

// logSlope is the least-squares slope of log(ms) against log(rows); it needs two sizes.
func logSlope(ps []growthPoint) (float64, bool) {
	var n, sx, sy, sxx, sxy float64
	for _, p := range ps {
		x, y := math.Log(p.rows), math.Log(p.ms)
		n++
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if n < 2 || den < 1e-9 {
		return 0, false
	}
	return (n*sxy - sx*sy) / den, true
}

// sentence says in one line what the point showed.
func sentence(variant string, rows int, m map[string]float64) string {
	lead := fmt.Sprintf("matview-refresh %s rows=%d: ", variant, rows)
	if variant == VariantIncremental {
		return lead + fmt.Sprintf("the worker's batches took %.1f ms (p50, %.0f rows each; %.0f batches), "+
			"and it brought the summary up to date %.1f ms after the writer stopped; at most %.0f events were pending; "+
			"reader p99 %.1f ms before, %.1f ms during batches",
			m[MetricRefreshMs], m[MetricRowsPerBatch], m[MetricRefreshes], m[MetricUpToDateMs], m[MetricMaxPendingRows],
			m[MetricReaderBeforeP99Ms], m[MetricReaderDuringP99Ms])
	}
	lock := "no lock seen"
	switch {
	case m[MetricRefreshLockAccessExclusive] == 1:
		lock = "ACCESS EXCLUSIVE on the view"
	case m[MetricRefreshLockExclusive] == 1:
		lock = "EXCLUSIVE on the view"
	}
	return lead + fmt.Sprintf("a refresh took %.1f ms (median of %.0f) holding %s; readers waiting on it peaked at %.0f; "+
		"reader p99 %.1f ms before the first refresh, %.1f ms during refreshes (x%.1f); writer p99 %.1f ms before, %.1f ms during",
		m[MetricRefreshMs], m[MetricRefreshes], lock, m[MetricReadersWaitingMax], m[MetricReaderBeforeP99Ms], m[MetricReaderDuringP99Ms],
		m[MetricReaderP99DuringOverBefore], m[MetricWriterBeforeP99Ms], m[MetricWriterDuringP99Ms])
}
