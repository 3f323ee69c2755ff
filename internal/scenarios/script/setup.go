package script

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/selectonly"
)

// Setup implements scenarios.Scenario: the pgbench tables when asked (or needed), then the setup
// files, in the run's schema (the search path of env.Admin).
func (s *Scenario) Setup(ctx context.Context, env *scenarios.Env) error {
	if s.asIs(env) {
		env.Logf("script: dsn target without --init or --setup: the scripts run against the database as it is, " +
			"in the DSN's search path")
		return s.detectScale(ctx, env)
	}
	conn, err := env.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if s.initTables(env) {
		if err := selectonly.CreateTables(ctx, conn, s.l.scale(), env.Logf); err != nil {
			return err
		}
		// pgbench -i vacuums pgbench_history too.
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE pgbench_history"); err != nil {
			return fmt.Errorf("vacuum pgbench_history: %w", err)
		}
	}
	vars := s.setupVars()
	for _, f := range s.l.setup {
		started := time.Now()
		// The simple protocol runs a file of several statements in one round trip, as psql -f.
		if _, err := conn.PgConn().Exec(ctx, substitute(f.sql, vars)).ReadAll(); err != nil {
			return fmt.Errorf("--setup %s: %w", f.name, err)
		}
		env.Logf("script: ran %s in %s", f.name, time.Since(started).Round(time.Millisecond))
	}
	return nil
}

// detectScale sets :scale, when not given, from the rows of pgbench_branches, as pgbench does
// for its built-in scripts on tables it did not load.
func (s *Scenario) detectScale(ctx context.Context, env *scenarios.Env) error {
	if s.l.opts.Scale > 0 || !s.l.hasBuiltins() {
		return nil
	}
	cfg, err := asIsConfig(env.Target.DSN())
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("script: %s", harness.RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	var branches int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pgbench_branches").Scan(&branches); err != nil {
		return fmt.Errorf("script: read the scale from pgbench_branches (give --scale, or --init to load the tables): %w", err)
	}
	if branches > 0 {
		s.l.detectedScale = branches
		env.Logf("script: scale %d, from the rows of pgbench_branches", branches)
	}
	return nil
}

// setupVars are the variables a setup file may use: :scale and the -D variables.
func (s *Scenario) setupVars() map[string]string {
	vars := map[string]string{"scale": strconv.Itoa(s.l.scale())}
	for k, v := range s.l.opts.Vars {
		vars[k] = v
	}
	return vars
}

// setupVar is psql's :name outside quotes; "::" (a cast) is not one.
var setupVar = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"]|"")*"|::|:[A-Za-z_][A-Za-z0-9_]*`)

// substitute replaces :name by its value for each name in vars, outside quoted strings and
// identifiers, as psql does with its variables; other text is left alone.
func substitute(sql string, vars map[string]string) string {
	return setupVar.ReplaceAllStringFunc(sql, func(m string) string {
		if m[0] != ':' || m == "::" {
			return m
		}
		if v, ok := vars[m[1:]]; ok {
			return v
		}
		return m
	})
}
