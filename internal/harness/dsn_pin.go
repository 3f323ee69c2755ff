package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/conninfo"
)

// PinDSN returns dsn with schema as the only schema on its search path and application_name set
// to schema, so that every connection made from it, by pgx or by a libpq program such as
// pgbench, creates, drops and finds unqualified tables in the run's schema only, and carries the
// run in pg_stat_activity. Both go in the `options` parameter (-c search_path=…), which pgx and
// libpq read alike; options the DSN has already are kept before ours, so ours win.
//
// A dsn target hands out only pinned DSNs (DSN and AdminDSN). Errors never echo the DSN.
func PinDSN(dsn, schema string) (string, error) {
	if !schemaSafe(schema) || schema == "public" {
		return "", fmt.Errorf("pin dsn: schema %q is not a pgscale run schema", schema)
	}
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("pin dsn: %w", err)
	}
	// The options pgx would send, PGOPTIONS from the environment included.
	cfg, err := d.Config()
	if err != nil {
		return "", fmt.Errorf("pin dsn: %w", err)
	}
	d = d.With("options", strings.TrimSpace(cfg.RuntimeParams["options"]+" -c search_path="+schema)).
		With("application_name", schema)
	if _, ok := cfg.RuntimeParams["search_path"]; ok {
		d = d.With("search_path", schema) // a parameter of its own (pgx only) would win over options
	}
	return d.Secret(), nil
}

// schemaSafe tells whether s is made of the characters RunSchema keeps.
func schemaSafe(s string) bool {
	return s != "" && !schemaUnsafe.MatchString(s)
}

// runMarkerPrefix starts the comment pgscale puts on a run's schema and roles on a dsn target.
const runMarkerPrefix = "pgscale run "

// Marker states.
const (
	MarkerRunning  = "running"  // a run (or calibrate) is using the schema
	MarkerPrepared = "prepared" // `pgscale prepare` made it for a later run
)

// RunMarker is what a run records of itself in the server's catalog, as the comment on its schema
// and on every role it creates, so that `pgscale clean --dsn` can tell the leftovers of a dead
// run from a live one and from everything that is not pgscale's.
type RunMarker struct {
	RunID  string `json:"run_id"`
	Schema string `json:"schema"`
	// Database is where the schema is (roles are cluster-wide; their schema is in one database).
	Database  string `json:"database,omitempty"`
	PID       int    `json:"pid"`
	ProcStart string `json:"proc_start,omitempty"` // the process's start in clock ticks since boot (Linux)
	// PIDNS is the process's pid namespace (Linux, "pid:[4026531836]"): a run in a container
	// that shares the host's name has pids this host cannot see.
	PIDNS     string    `json:"pidns,omitempty"`
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
	State     string    `json:"state"`
}

// newRunMarker is the marker of this process's run.
func newRunMarker(runID, schema, state string) RunMarker {
	host, _ := os.Hostname()
	m := RunMarker{RunID: runID, Schema: schema, PID: os.Getpid(), Host: host, StartedAt: time.Now().UTC().Truncate(time.Second), State: state}
	if st, ok := cleanProcStat(m.PID); ok {
		m.ProcStart = st.start
	}
	m.PIDNS = pidNamespace()
	return m
}

// pidNamespace names this process's pid namespace ("" where there is no /proc).
func pidNamespace() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

// comment is the marker as a comment's text.
func (m RunMarker) comment() string {
	b, _ := json.Marshal(m) // a struct of strings, ints and a time: never fails
	return runMarkerPrefix + string(b)
}

// parseRunMarker reads a comment written by comment; ok is false for any other comment.
func parseRunMarker(comment string) (RunMarker, bool) {
	var m RunMarker
	rest, found := strings.CutPrefix(comment, runMarkerPrefix)
	if !found || json.Unmarshal([]byte(rest), &m) != nil || m.RunID == "" || !schemaSafe(m.Schema) || !strings.HasPrefix(m.Schema, "pgscale_") || m.PID <= 0 {
		return RunMarker{}, false
	}
	return m, true
}

// sqlLiteral is s as an escape string constant (E'…'), which reads the same whatever
// standard_conforming_strings is.
func sqlLiteral(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// markSchemaSQL is the statement that records m on its schema.
func markSchemaSQL(m RunMarker) string {
	return "COMMENT ON SCHEMA " + pgx.Identifier{m.Schema}.Sanitize() + " IS " + sqlLiteral(m.comment())
}

// CreateMarkedSchema creates schema with the marker of this process's run on it, in one
// transaction, so that a process killed at any point leaves no schema that `pgscale clean --dsn`
// cannot tell is pgscale's. Scratch schemas (columns --verify) are made with it too.
func CreateMarkedSchema(ctx context.Context, conn *pgx.Conn, runID, schema string) error {
	m := newRunMarker(runID, schema, MarkerRunning)
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&m.Database); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+"; "+markSchemaSQL(m))
	return err
}

// markSchema records this process as the owner of the run's schema, in state.
func markSchema(ctx context.Context, conn *pgx.Conn, runID, schema, state string) error {
	m := newRunMarker(runID, schema, state)
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&m.Database); err != nil {
		return fmt.Errorf("dsn target: mark schema %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, markSchemaSQL(m)); err != nil {
		return fmt.Errorf("dsn target: mark schema %s: %w", schema, err)
	}
	return nil
}

// MarkRole records on role, which a scenario created for its run, the marker of the run's schema
// (in the database conn is connected to), so that `pgscale clean --dsn` finds the role if the run
// dies. On a target without a run schema (docker, local: schema public) it does nothing.
func MarkRole(ctx context.Context, conn *pgx.Conn, role, schema string) error {
	if schema == "" || schema == "public" {
		return nil
	}
	var comment *string
	err := conn.QueryRow(ctx, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", schema).Scan(&comment)
	if err != nil {
		return fmt.Errorf("mark role %s: schema %s: %w", role, schema, err)
	}
	if comment == nil {
		return fmt.Errorf("mark role %s: schema %s carries no pgscale run marker", role, schema)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON ROLE "+pgx.Identifier{role}.Sanitize()+" IS "+sqlLiteral(*comment)); err != nil {
		return fmt.Errorf("mark role %s: %w", role, err)
	}
	return nil
}

// MarkPrepared records that the run's schema was made by `pgscale prepare` for a later run, so
// that `pgscale clean --dsn` keeps it although its maker has exited.
func MarkPrepared(ctx context.Context, target Target, runID string) error {
	conn, err := pgx.Connect(ctx, target.AdminDSN())
	if err != nil {
		return fmt.Errorf("prepare: mark schema %s: %s", target.Schema(), RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	return markSchema(ctx, conn, runID, target.Schema(), MarkerPrepared)
}

// RunLockKey is the first key of the advisory locks that the shards of a sharded run hold while
// they live (the second is the shard's index): a hash of the run id, kept positive so that
// pg_locks shows it as is. `pgscale clean --dsn` counts a run whose lock is held as alive.
func RunLockKey(runID string) int32 {
	h := fnv.New32a()
	h.Write([]byte(runID))
	return int32(h.Sum32() & 0x7fffffff)
}

// CurrentSchema is the schema conn creates unqualified tables in (current_schema()), "none"
// when its search_path names no schema that exists.
func CurrentSchema(ctx context.Context, conn *pgx.Conn) (string, error) {
	var current *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return "", err
	}
	if current == nil {
		return "none", nil
	}
	return *current, nil
}

// CheckPinned connects with pinned (a DSN from PinDSN) and checks that the session's schema is
// schema: something between pgscale and the server (a pooler in transaction mode that ignores
// the options startup parameter) may drop the pin, and pgscale would then create and drop its
// tables wherever the server's search_path points, the user's public schema among them.
func CheckPinned(ctx context.Context, pinned, schema string) error {
	cfg, err := ConnConfig(pinned)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("check the run's schema: %s", RedactDSN(err.Error()))
	}
	defer conn.Close(context.Background())
	got, err := CurrentSchema(ctx, conn)
	if err != nil {
		return fmt.Errorf("check the run's schema: %w", err)
	}
	if got != schema {
		return fmt.Errorf("a connection given search_path=%s works in schema %s instead: something between pgscale and the "+
			"server drops startup parameters (a pooler in transaction mode with ignore_startup_parameters=options?), and "+
			"pgscale would create and drop tables outside its own schema; connect to the server directly, or through a "+
			"pooler that passes the options parameter", schema, got)
	}
	return nil
}
