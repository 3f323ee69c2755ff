// Package selectonly is the calibration scenario: pgbench's built-in select-only script (-S)
// against pgbench-compatible tables, so the load generator's own ceiling can be compared with
// pgbench on the same server.
package selectonly

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/loadgen/mux"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

// Name of the scenario.
const Name = "select-only"

// accountsPerScale is pgbench's naccounts: rows of pgbench_accounts per unit of scale.
const accountsPerScale = 100000

// lookup is pgbench -S's query, word for word.
const lookup = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"

func init() { scenarios.Register(Name, func() scenarios.Scenario { return &scenario{} }) }

type scenario struct {
	// plain is whether the load's connections are plaintext (engine=auto asks once).
	plain mux.PlaintextOnce
	// said is the engine told for each variant and connect mode (noteEngine).
	said map[string]scenarios.EngineChoice
}

func (*scenario) Doc() scenarios.Doc {
	return scenarios.Doc{
		Name:    Name,
		Summary: "calibration: pgbench -S key lookups, to compare pgscale's ceiling with pgbench",
		Shows: "How many primary-key lookups per second this client and server reach, in prepared and " +
			"simple protocol, over a pool or a connection per operation. `pgscale calibrate` runs it " +
			"interleaved with pgbench on the same server.",
		Variants: []string{"prepared", "simple"},
		Params:   append(LookupParams("concurrent clients (pgbench -c)"), engineParam),
		Duration: 30 * time.Second, Warmup: 5 * time.Second,
		QuickDuration: 5 * time.Second, QuickWarmup: time.Second,
		Shardable: true, // read-only lookups; shard 0 loads the accounts
	}
}

// LookupParams are the parameters of key lookups (variants, workers, scale, connect); the
// pgbench scenario takes the same, with workersHelp saying what a worker is there.
func LookupParams(workersHelp string) []scenarios.ParamSpec {
	return []scenarios.ParamSpec{
		scenarios.VariantsParam("prepared", "simple"),
		{Name: "workers", Kind: scenarios.KindInt, List: true, Default: "8", Quick: "8", Min: 1, Help: workersHelp},
		{Name: "scale", Kind: scenarios.KindInt, Default: "10", Quick: "1", Min: 1,
			Help: "pgbench scale: 100,000 accounts per unit"},
		{Name: "connect", Kind: scenarios.KindString, List: true, Default: "pool",
			Choices: []string{"pool", "per-op"},
			Help:    "pool: connections opened once; per-op: a new connection per lookup (pgbench -C)"},
	}
}

func (s *scenario) Plan(p scenarios.Params) (scenarios.Plan, error) {
	return PlanLookups(p), nil
}

// PlanLookups is the plan of key lookups over variants × connect × workers, each worker count
// with max_connections to fit; the pgbench scenario shares it so that the two line up.
func PlanLookups(p scenarios.Params) scenarios.Plan {
	var plan scenarios.Plan
	for _, v := range scenarios.Product(
		scenarios.StringDim("variant", p.Strings("variants")),
		scenarios.StringDim("connect", p.Strings("connect")),
		scenarios.IntDim("workers", p.Ints("workers")),
	) {
		workers := v["workers"].(int)
		plan.Points = append(plan.Points, scenarios.Point{
			Variant: v["variant"].(string),
			Values:  map[string]any{"workers": workers, "connect": v["connect"]},
			Workers: workers,
			Settings: map[string]string{
				"max_connections": fmt.Sprint(max(100, workers+20)),
			},
		})
	}
	return plan
}

// Setup creates pgbench_branches and pgbench_accounts as `pgbench -i` does (same columns, same
// primary key), filled server-side.
func (s *scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return CreateTables(ctx, conn, env.Params.Int("scale"), env.Logf)
}

// CreateTables (re)creates pgbench-compatible tables at the given scale in the connection's
// search path.
func CreateTables(ctx context.Context, conn *pgx.Conn, scale int, logf func(string, ...any)) error {
	started := time.Now()
	stmts := []string{
		"DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history",
		"CREATE TABLE pgbench_branches (bid int NOT NULL, bbalance int, filler char(88)) WITH (fillfactor = 100)",
		"CREATE TABLE pgbench_tellers (tid int NOT NULL, bid int, tbalance int, filler char(84)) WITH (fillfactor = 100)",
		"CREATE TABLE pgbench_accounts (aid int NOT NULL, bid int, abalance int, filler char(84)) WITH (fillfactor = 100)",
		"CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))",
		fmt.Sprintf("INSERT INTO pgbench_branches (bid, bbalance) SELECT b, 0 FROM generate_series(1, %d) b", scale),
		fmt.Sprintf("INSERT INTO pgbench_tellers (tid, bid, tbalance) SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, %d) t", scale*10),
		fmt.Sprintf("INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT a, (a - 1) / %d + 1, 0, '' FROM generate_series(1, %d) a",
			accountsPerScale, scale*accountsPerScale),
		"ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid)",
		"ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid)",
		"ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)",
		"VACUUM ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts",
	}
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create the pgbench tables: %w", err) // the caller names the scenario
		}
	}
	logf("pgbench tables: loaded %d accounts (scale %d) in %s", scale*accountsPerScale, scale,
		time.Since(started).Round(time.Millisecond))
	return nil
}

// Run measures one point: random lookups over every account, on the engine chooseEngine picks.
func (s *scenario) Run(ctx context.Context, env *scenarios.Env, pt scenarios.Point) (result.Series, error) {
	accounts := int32(env.Params.Int("scale") * accountsPerScale)
	engine, err := s.chooseEngine(ctx, env, pt)
	if err != nil {
		return result.Series{}, err
	}
	s.noteEngine(env, pt, engine)
	var series result.Series
	if engine.Engine == engineMux {
		series, err = runMux(ctx, env, pt, accounts)
	} else {
		series, err = runGoroutines(ctx, env, pt, accounts)
	}
	series.Engine, series.EngineWhy = engine.Engine, engine.Why
	return series, err
}

// runGoroutines measures one point with a goroutine per worker over pgx.
func runGoroutines(ctx context.Context, env *scenarios.Env, pt scenarios.Point, accounts int32) (result.Series, error) {
	cfg := env.LoadConfig(pt.Workers, ConnMode(fmt.Sprint(pt.Values["connect"])))
	execMode := pgx.QueryExecModeCacheStatement
	if pt.Variant == "simple" {
		execMode = pgx.QueryExecModeSimpleProtocol
	}
	out, runErr := loadgen.Run(ctx, cfg, Lookup(accounts, execMode))
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}
	return series, runErr
}

// ConnMode is the goroutine engine's connection mode for the connect parameter. connect=pool
// opens the connections once: a connection per worker, as pgbench -c has (a pool would be as
// large as the workers, so no worker would ever wait for one). Measured at 2,000 workers against
// a pgxpool of 2,000: 22 KB of live heap per worker instead of 32 KB (the pool keeps row buffers
// of its own per connection) and less client CPU per lookup (no acquire and release); see
// loadgen's README.
func ConnMode(connect string) loadgen.ConnMode {
	if connect == "per-op" {
		return loadgen.ConnPerOp
	}
	return loadgen.ConnPerWorker
}

// lookupStatement names the prepared lookup on every connection.
const lookupStatement = "pgscale_select_only"

// binaryFormat asks for the parameter and the result in binary, as pgbench -M prepared does not
// need to parse text either.
var binaryFormat = []int16{1}

// lookupParams is a worker's reusable parameter buffer, so a lookup allocates nothing of its own.
type lookupParams struct {
	aid    [4]byte
	values [][]byte
}

// Lookup returns the select-only operation: one random account's balance. In the prepared mode it
// goes straight to pgconn with a statement prepared once per connection and a reused parameter
// buffer: the client then spends about as much CPU per lookup as pgbench does.
func Lookup(accounts int32, mode pgx.QueryExecMode) loadgen.Op {
	if mode != pgx.QueryExecModeCacheStatement {
		return func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
			aid := w.Rand.Int32N(accounts) + 1
			var balance int32
			return conn.QueryRow(w.QueryContext(ctx), lookup, mode, aid).Scan(&balance)
		}
	}
	return func(ctx context.Context, w *loadgen.Worker, conn *pgx.Conn) error {
		params, ok := w.State.(*lookupParams)
		if !ok {
			params = &lookupParams{}
			params.values = [][]byte{params.aid[:]}
			w.State = params
		}
		ctx = w.QueryContext(ctx)
		sd, err := conn.Prepare(ctx, lookupStatement, lookup)
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint32(params.aid[:], uint32(w.Rand.Int32N(accounts)+1))
		// ExecStatement with the statement's known result columns sends Bind, Execute and Sync
		// without a Describe: the server then sends no RowDescription for pgx to decode.
		rr := conn.PgConn().ExecStatement(ctx, sd, params.values, binaryFormat, binaryFormat)
		rows := 0
		for rr.NextRow() {
			if len(rr.Values()) != 1 || len(rr.Values()[0]) != 4 {
				rows = -1
			}
			rows++
		}
		if _, err := rr.Close(); err != nil {
			return err
		}
		if rows != 1 {
			return fmt.Errorf("select-only: lookup returned %d rows, want 1", rows)
		}
		return nil
	}
}
