// Package columns is pgscale's column-order analyzer: for existing tables it works out how many
// bytes per row alignment padding costs in the current column order and in a proposed one, the
// saving over the whole table, and the DDL of a reordered copy.
//
// It reads pg_attribute, pg_type and pg_stats inside a read-only transaction and never alters
// anything; --verify copies a sample of rows into both layouts in a scratch schema of its own,
// measures their real sizes, and drops the schema. The model (EstimateRow) follows PostgreSQL's
// heap tuple format: the 23-byte header and its null bitmap padded to 8 bytes, each value aligned
// to its type's alignment unless it is a variable-length value short enough for a 1-byte header,
// NULLs taking no space, and the tuple padded to 8 bytes behind a 4-byte line pointer.
package columns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/usage"
)

// lockTimeout bounds waiting for a lock while reading sizes: the analyzer must never queue behind
// DDL (and so in front of everything queued after it). Five seconds is long enough for a busy
// table's ordinary locks to pass, short enough to give up on an ALTER TABLE.
const lockTimeout = "5s"

// Options are everything `pgscale columns` takes.
type Options struct {
	// Target is dsn (an existing server, the default) or local (a server started from the
	// installed binaries, to analyze the tables a DDL file creates).
	Target  string
	DSN     string
	DDLFile string
	Table   string
	Schema  string
	JSON    bool
	Verify  bool
	// Sample is how many rows --verify copies (DefaultSample when 0).
	Sample int
	// Log receives notes (the local server starting); nil discards them.
	Log io.Writer
}

// Validate reports every bad option at once, as one usage error.
func (o *Options) Validate() error {
	var errs []string
	if o.Target == "" {
		o.Target = harness.KindDSN
		if o.DDLFile != "" && o.DSN == "" {
			o.Target = harness.KindLocal
		}
	}
	switch o.Target {
	case harness.KindDSN:
		if o.DSN == "" {
			errs = append(errs, "--dsn is required: give the server to analyze as a URL (postgres://user@host:5432/db) or key=value pairs (host=... dbname=...), or analyze a CREATE TABLE file with --target local --ddl FILE.sql")
		} else if _, err := harness.ParseDSN(o.DSN); err != nil {
			errs = append(errs, err.Error())
		}
		if o.DDLFile != "" {
			errs = append(errs, "--ddl is only for --target local (it runs the file on a server pgscale starts, never on yours)")
		}
	case harness.KindLocal:
		if o.DSN != "" {
			errs = append(errs, "--dsn is only for --target dsn (got --target local)")
		}
		if o.DDLFile == "" {
			errs = append(errs, "--target local needs --ddl FILE.sql: the CREATE TABLE statements to analyze")
		} else if err := checkDDLFile(o.DDLFile); err != nil {
			errs = append(errs, err.Error())
		}
	default:
		errs = append(errs, fmt.Sprintf("--target %q: valid targets are dsn (an existing server, with --dsn) and local (with --ddl FILE.sql)", o.Target))
	}
	if o.Sample < 0 {
		errs = append(errs, fmt.Sprintf("--sample %d: must be at least 1", o.Sample))
	}
	if len(errs) > 0 {
		return usage.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// checkDDLFile makes sure a DDL file can be read and has something to run.
func checkDDLFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usage.Fieldf("ddl", "%s: cannot read it: %v", path, err)
	}
	if !strings.Contains(strings.ToLower(string(data)), "create") {
		return usage.Fieldf("ddl", "%s: it has no CREATE TABLE statement", path)
	}
	return nil
}

// Run analyzes the selected tables and writes the result (text, or JSON) to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	dsn := o.DSN
	if o.Target == harness.KindLocal {
		ddl, err := os.ReadFile(o.DDLFile)
		if err != nil {
			return usage.Fieldf("ddl", "%s: cannot read it: %v", o.DDLFile, err)
		}
		target, err := (&harness.LocalProvider{}).Start(ctx, harness.Spec{Kind: harness.KindLocal,
			RunID: time.Now().UTC().Format("20060102T150405Z") + "-columns"})
		if err != nil {
			return fmt.Errorf("columns: start a local server: %w", err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = target.Close(cctx)
		}()
		if o.Log != nil {
			fmt.Fprintf(o.Log, "columns: started PostgreSQL %s for %s; it is removed when done\n", target.Detail()["version"], o.DDLFile)
		}
		dsn = target.DSN()
		if err := runDDL(ctx, dsn, o.DDLFile, string(ddl)); err != nil {
			return err
		}
	}
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	analyses, err := AnalyzeSelection(ctx, conn, Selection{Schema: o.Schema, Table: o.Table})
	if err != nil {
		return err
	}
	if len(analyses) == 0 && !o.JSON {
		what := "the database"
		if o.Schema != "" {
			what = "schema " + o.Schema
		}
		_, err := fmt.Fprintf(out, "%s has no tables\n", what)
		return err
	}
	if o.Verify {
		for _, a := range analyses {
			if a.Verify, err = Verify(ctx, conn, a, o.Sample); err != nil {
				return err
			}
		}
	}
	if o.JSON {
		return WriteJSON(out, analyses)
	}
	return WriteText(out, analyses)
}

// connect opens a connection to dsn within harness.DSNConnectTimeout.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := harness.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "pgscale columns"
	}
	cctx, cancel := context.WithTimeout(ctx, harness.DSNConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		// pgconn lists each address tried on a line of its own: one line reads better.
		msg := strings.Join(strings.Fields(harness.RedactDSN(err.Error())), " ")
		return nil, fmt.Errorf("columns: connect to %s: %s", harness.RedactDSN(dsn), msg)
	}
	return conn, nil
}

// runDDL runs a DDL file on the local server (the simple protocol takes several statements).
func runDDL(ctx context.Context, dsn, path, ddl string) error {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, ddl); err != nil {
		return usage.Fieldf("ddl", "%s: the server rejected it: %v", path, err)
	}
	return nil
}

// AnalyzeSelection reads the selected tables inside a read-only transaction (with a lock
// timeout) and analyzes each one.
func AnalyzeSelection(ctx context.Context, conn *pgx.Conn, sel Selection) ([]*Analysis, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("columns: begin a read-only transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
		return nil, fmt.Errorf("columns: set lock_timeout: %w", err)
	}
	oids, err := Lookup(ctx, tx, sel)
	if err != nil {
		return nil, err
	}
	var out []*Analysis
	for _, oid := range oids {
		t, err := Inspect(ctx, tx, oid)
		if err != nil {
			return nil, err
		}
		if sel.Table != "" && !t.CanSelect {
			return nil, fmt.Errorf("columns: permission denied: no SELECT privilege on table %s, so pg_stats hides its statistics "+
				"(GRANT SELECT ON %s TO the user pgscale connects as)", t.Display(), t.Qualified())
		}
		out = append(out, Analyze(t))
	}
	return out, nil
}
