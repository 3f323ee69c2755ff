// Package zombie is the zombie-queries scenario: a web tier gives up on slow requests after
// client_timeout and closes their connections, as a killed request does, while PostgreSQL keeps
// running the queries behind them.
//
// It replays "Postgres Failures At Scale" (the article on statement_timeout and lock_timeout):
// Heroku ends a request after 30 s, but the query goes on until PostgreSQL next talks to the
// client, so active backends with no one waiting for them pile up until max_connections runs
// out and new requests get 53300. The variants compare that with statement_timeout at about
// three times the normal response time (the article's advice), and with
// client_connection_check_interval (PostgreSQL 14 and later), which makes a backend look for its
// client while the query runs.
//
// One run of a point: open-loop requests at a steady rate, each on a connection of its own; a
// share of them run a slow query (pg_sleep, or a CPU-bound aggregate that sends nothing until it
// ends). A watcher of the scenario's own reads pg_stat_activity ten times a second and counts
// the backends whose client has gone (zombies) and how long each lives on. Two probes, a sleep and
// a CPU query, measure the same on a quiet pair of connections beside the load.
package zombie

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

// Name of the scenario.
const Name = "zombie-queries"

// Variants.
const (
	VariantNoTimeout        = "no-timeout"
	VariantStatementTimeout = "statement-timeout"
	VariantCheckInterval    = "check-interval"
)

// Kinds of slow query.
const (
	kindSleep = "sleep"
	kindCPU   = "cpu"
)

// SQLSTATEs the scenario counts (jackc/pgerrcode names them; the module is not a dependency).
const (
	codeTooManyConnections = "53300" // too_many_connections
	codeQueryCanceled      = "57014" // query_canceled: statement_timeout fired
	codeAdminShutdown      = "57P01" // admin_shutdown: the teardown's pg_terminate_backend
)

// checkIntervalMinVersion is the first server_version_num with client_connection_check_interval.
const checkIntervalMinVersion = 140000

// defaultRate is the request rate when --rate is not given. With a connection per request the
// server spends ~7 ms of CPU on each connect on the 2-core machines we measured, so 20/s leaves
// the CPU to the queries; at a slow share of 0.2 it makes 4 zombies a second, enough to fill a
// max_connections of 40 in about ten seconds.
const defaultRate = 20.0

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct {
	// Set by Setup, read by Run.
	serverVersion int     // server_version_num
	cpuRowsPerSec float64 // generate_series rows a second one backend counts (the CPU query's pace)
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "web requests time out but their queries run on: zombie backends, 53300, statement_timeout, client_connection_check_interval",
		Shows: "Requests arrive open loop at --rate (20/s when not given), each on a connection of its own; a share " +
			"(slow_share) run a slow query for slow_query (slow_kind=sleep: pg_sleep; cpu: a generate_series " +
			"aggregate that sends nothing until it ends), the rest a normal one of normal_query. The web tier gives " +
			"up on a request client_timeout after it arrived and closes its socket without a cancel request, as a " +
			"killed request does. no-timeout: the backends run on with no one waiting (zombies), pile up, and new " +
			"requests get 53300 once max_connections is full. statement-timeout: the sessions start with " +
			"statement_timeout (0: three times normal_query, the article's 2-3x the normal response time), so slow " +
			"queries end with 57014 before the web tier gives up. check-interval: the sessions start with " +
			"client_connection_check_interval (PostgreSQL 14+), so a backend whose client left ends within that " +
			"interval. Two probes beside the load, a pg_sleep and a CPU query, measure how long a backend lives " +
			"after its client closed, for each kind. The timeline carries zombies, app_connections and connections " +
			"per second; metrics carry zombies_peak, connections_peak, time_to_first_53300_s, " +
			"zombies_at_first_53300, errors_53300, zombie_after_close_p50_ms and _max_ms, and the probes' " +
			"probe_sleep_after_close_ms and probe_cpu_after_close_ms. Settings go in as startup options of the " +
			"scenario's own sessions (the effect of ALTER ROLE … SET without touching a role), and every backend " +
			"it started is terminated at the end, on every path.",
		Variants: []string{VariantNoTimeout, VariantStatementTimeout, VariantCheckInterval},
		Headline: &report.Headline{Metric: report.HeadlineThroughput, Label: "request throughput", Unit: "requests/s", Better: report.BetterHigher},
		Params: []scenarios.ParamSpec{
			scenarios.VariantsParam(VariantNoTimeout, VariantStatementTimeout, VariantCheckInterval),
			{Name: "max_connections", Kind: scenarios.KindInt, Default: "40", Quick: "25", Min: 10,
				Help: "the server's max_connections (the scenario holds 4 of them, the runner's sampler 1)"},
			{Name: "client_timeout", Kind: scenarios.KindDuration, Default: "2s", Quick: "1s", Min: 0,
				Help: "when the web tier gives up on a request, from its arrival (Heroku: 30s)"},
			{Name: "slow_query", Kind: scenarios.KindDuration, Default: "30s", Quick: "8s", Min: 0.01,
				Help: "how long a slow query runs; longer than client_timeout"},
			{Name: "slow_share", Kind: scenarios.KindFloat, Default: "0.2", Quick: "0.25", Min: 0,
				Help: "the share of requests that run the slow query (0 to 1)"},
			{Name: "slow_kind", Kind: scenarios.KindString, Default: kindSleep, Choices: []string{kindSleep, kindCPU},
				Help: "the load's slow query: sleep (pg_sleep, no CPU) or cpu (a generate_series aggregate; the probes measure both anyway)"},
			{Name: "normal_query", Kind: scenarios.KindDuration, Default: "50ms", Min: 0,
				Help: "how long a normal request's query runs (pg_sleep)"},
			{Name: "statement_timeout", Kind: scenarios.KindDuration, Default: "0", Min: 0,
				Help: "statement-timeout: the sessions' statement_timeout; 0 is three times normal_query"},
			{Name: "check_interval", Kind: scenarios.KindDuration, Default: "500ms", Min: 0,
				Help: "check-interval: the sessions' client_connection_check_interval"},
			{Name: "workers", Kind: scenarios.KindInt, Default: "0", Min: 0,
				Help: "requests in flight at most (later ones wait, counted from their due time); 0: enough for rate x client_timeout twice over"},
		},
		Intrusive: true,
		Duration:  30 * time.Second, Warmup: time.Second,
		QuickDuration: 8 * time.Second, QuickWarmup: time.Second,
	}
}

func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	if share := p.Float("slow_share"); share > 1 {
		return scenarios.Plan{}, usage.Fieldf("set", "slow_share=%s: must be between 0 and 1", p.String("slow_share"))
	}
	clientTimeout, slow := p.Duration("client_timeout"), p.Duration("slow_query")
	if slow <= clientTimeout {
		return scenarios.Plan{}, usage.Fieldf("set", "slow_query=%s: must be longer than client_timeout (%s), or no query outlives its request",
			slow, clientTimeout)
	}
	for _, name := range []string{"statement_timeout", "check_interval", "client_timeout"} {
		d := p.Duration(name)
		if d == 0 && name == "statement_timeout" {
			continue // three times normal_query
		}
		if d < time.Millisecond {
			return scenarios.Plan{}, usage.Fieldf("set", "%s=%s: PostgreSQL counts it in milliseconds: give at least 1ms", name, p.String(name))
		}
		if maxSetting := 2147483647 * time.Millisecond; d > maxSetting && name != "client_timeout" {
			return scenarios.Plan{}, usage.Fieldf("set", "%s=%s: PostgreSQL takes at most %s", name, p.String(name), maxSetting)
		}
	}
	maxConns := p.Int("max_connections")
	var plan scenarios.Plan
	plan.Settings = map[string]string{"max_connections": fmt.Sprint(maxConns)}
	for _, v := range p.Strings("variants") {
		values := map[string]any{"max_connections": maxConns, "client_timeout": p.Duration("client_timeout").String(),
			"slow_kind": p.String("slow_kind")}
		switch v {
		case VariantStatementTimeout:
			values["statement_timeout"] = statementTimeout(p).String()
		case VariantCheckInterval:
			values["check_interval"] = p.Duration("check_interval").String()
		}
		plan.Points = append(plan.Points, scenarios.Point{Variant: v, Values: values, Workers: p.Int("workers")})
	}
	return plan, nil
}

// statementTimeout is the statement-timeout variant's setting: given, or three times the normal
// query, the top of the article's "double or triple the average response time".
func statementTimeout(p scenarios.Params) time.Duration {
	if d := p.Duration("statement_timeout"); d > 0 {
		return d
	}
	return max(3*p.Duration("normal_query"), time.Millisecond).Round(time.Millisecond)
}

// Setup reads the server's version (client_connection_check_interval needs 14) and times the CPU
// query, so that it can be sized to run for slow_query. It creates nothing.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&s.serverVersion); err != nil {
		return fmt.Errorf("read the server version: %w", err)
	}
	if slices.Contains(env.Params.Strings("variants"), VariantCheckInterval) && s.serverVersion < checkIntervalMinVersion {
		return fmt.Errorf("the check-interval variant needs client_connection_check_interval, "+
			"which PostgreSQL 14 added, and the server is %d: leave it out (--set variants=no-timeout,statement-timeout)",
			s.serverVersion)
	}
	if err := checkDirect(ctx, env, conn); err != nil {
		return err
	}
	// The CPU query's pace: the best of three short runs, so that a moment of contention from
	// other work does not make every later query too short.
	const calibrationRows = 5_000_000
	best := time.Duration(0)
	for range 3 {
		started := time.Now()
		if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
			return fmt.Errorf("time the CPU query: %w", err)
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf(cpuQuery, calibrationRows)); err != nil {
			return fmt.Errorf("time the CPU query: %w", err)
		}
		if d := time.Since(started); best == 0 || d < best {
			best = d
		}
	}
	s.cpuRowsPerSec = calibrationRows / best.Seconds()
	env.Logf("one backend counts %.1fM generate_series rows a second", s.cpuRowsPerSec/1e6)
	return nil
}

// Run measures one point.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (report.Series, error) {
	cfg := readConfig(env, pt)
	if s.cpuRowsPerSec == 0 {
		return report.Series{}, fmt.Errorf("zombie-queries: run before setup")
	}
	r := &run{env: env, cfg: cfg, pt: pt, serverVersion: s.serverVersion, cpuRowsPerSec: s.cpuRowsPerSec,
		abandoned: map[uint32]gone{}, probeExits: map[uint32]time.Time{}}
	return r.measure(ctx)
}

// config is one point's parameters.
type config struct {
	variant          string
	maxConnections   int
	clientTimeout    time.Duration
	slowQuery        time.Duration
	slowShare        float64
	slowKind         string
	normalQuery      time.Duration
	statementTimeout time.Duration // 0 unless statement-timeout
	checkInterval    time.Duration // 0 unless check-interval
	workers          int
	rate             float64
}

func readConfig(env *scenarios.Env, pt scenarios.Point) config {
	p := env.Params
	c := config{
		variant:        pt.Variant,
		maxConnections: p.Int("max_connections"),
		clientTimeout:  p.Duration("client_timeout"),
		slowQuery:      p.Duration("slow_query"),
		slowShare:      p.Float("slow_share"),
		slowKind:       p.String("slow_kind"),
		normalQuery:    p.Duration("normal_query"),
		workers:        pt.Workers,
		rate:           env.Rate,
	}
	switch c.variant {
	case VariantStatementTimeout:
		c.statementTimeout = statementTimeout(p)
	case VariantCheckInterval:
		c.checkInterval = p.Duration("check_interval")
	}
	if c.rate == 0 {
		c.rate = defaultRate
	}
	if env.Workers > 0 {
		c.workers = env.Workers
	}
	if c.workers == 0 {
		// Each request holds a worker for client_timeout at most; twice what arrives in that
		// time leaves room for the connects that wait on a loaded server.
		c.workers = max(50, int(2*c.rate*(c.clientTimeout.Seconds()+1)))
	}
	return c
}

// checkDirect makes sure the load reaches the server's backends directly (or through a proxy that
// only forwards bytes, as --latency's): the scenario drops a request's socket and watches its
// backend by pid, which a pooler hides.
func checkDirect(ctx context.Context, env *scenarios.Env, admin *pgx.Conn) error {
	cc := env.Load.Copy()
	cc.RuntimeParams = maps.Clone(cc.RuntimeParams)
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = appNameFor(env.Target.Schema()) + probeSuffix
	sess, err := openSession(ctx, cc)
	if err != nil {
		return fmt.Errorf("connect as the web tier: %w", err)
	}
	defer sess.close()
	var seen bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND application_name = $2)",
		int64(sess.pid), cc.RuntimeParams["application_name"]).Scan(&seen); err != nil {
		return fmt.Errorf("look for the web tier's backend: %w", err)
	}
	if !seen {
		return fmt.Errorf("the load does not reach the server's backends directly (a pooler in front?): " +
			"the scenario watches each request's own backend; run it without --pooler")
	}
	return nil
}
