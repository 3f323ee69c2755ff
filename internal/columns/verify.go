package columns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
)

// DefaultSample is how many rows --verify copies. 10,000 rows of a typical wide table fill a few
// hundred pages, so the half-empty last page moves bytes per row by well under 1%, and the copy
// takes a second or two.
const DefaultSample = 10000

// sampleOversample asks TABLESAMPLE SYSTEM for twice the rows wanted: it picks whole pages, so
// it returns a varying number of rows, and LIMIT keeps the sample to size.
const sampleOversample = 2

// dropScratchTimeout bounds dropping the scratch schema, even after an interrupt.
const dropScratchTimeout = 30 * time.Second

// Verification is what copying a sample into both layouts measured.
type Verification struct {
	SampleRows int64  `json:"sample_rows"`
	Method     string `json:"method"`
	// Heap is pg_relation_size; Total adds TOAST (the copies have no indexes).
	CurrentHeapBytes   int64   `json:"current_heap_bytes"`
	ProposedHeapBytes  int64   `json:"proposed_heap_bytes"`
	CurrentTotalBytes  int64   `json:"current_total_bytes"`
	ProposedTotalBytes int64   `json:"proposed_total_bytes"`
	CurrentRowBytes    float64 `json:"current_heap_bytes_per_row"`
	ProposedRowBytes   float64 `json:"proposed_heap_bytes_per_row"`
	// Tuple bytes are avg(pg_column_size(row)): the rows themselves, free of page effects.
	CurrentTupleBytes  float64 `json:"current_tuple_bytes"`
	ProposedTupleBytes float64 `json:"proposed_tuple_bytes"`
	HeapSavingPct      float64 `json:"heap_saving_pct"`
	TupleSavingPct     float64 `json:"tuple_saving_pct"`
}

// Verify copies a sample of a.Table's rows into two tables in a scratch schema of its own, one
// in the current column order (dropped columns re-created and dropped, so new rows carry the same
// null bitmap) and one in the proposed order, measures their real sizes, and drops the schema.
// It needs SELECT on the table and CREATE on the database; the table itself is only read.
func Verify(ctx context.Context, conn *pgx.Conn, a *Analysis, sample int) (*Verification, error) {
	t := a.Table
	if sample <= 0 {
		sample = DefaultSample
	}
	var canCreate, canSelect bool
	var db, user string
	if err := conn.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE'), has_table_privilege($1::oid, 'SELECT'),
		current_database(), current_user`, t.OID).Scan(&canCreate, &canSelect, &db, &user); err != nil {
		return nil, fmt.Errorf("columns verify: check privileges: %w", err)
	}
	if !canSelect {
		return nil, fmt.Errorf("columns verify: permission denied: %s has no SELECT privilege on table %s (GRANT SELECT ON %s TO %s)",
			user, t.Display(), t.Qualified(), pgx.Identifier{user}.Sanitize())
	}
	if !canCreate {
		return nil, fmt.Errorf("columns verify: permission denied: %s has no CREATE privilege on database %s, which --verify needs "+
			"for its scratch schema (GRANT CREATE ON DATABASE %s TO %s, or run without --verify)",
			user, db, pgx.Identifier{db}.Sanitize(), pgx.Identifier{user}.Sanitize())
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("columns verify: scratch schema name: %w", err)
	}
	schema := "pgscale_columns_" + hex.EncodeToString(suffix)
	qs := pgx.Identifier{schema}.Sanitize()
	// Marked as a run's schema, so that pgscale clean --dsn removes it if this process is killed.
	if err := harness.CreateMarkedSchema(ctx, conn, "columns-"+hex.EncodeToString(suffix), schema); err != nil {
		return nil, fmt.Errorf("columns verify: create schema %s: %w", schema, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropScratchTimeout)
		defer cancel()
		// An interrupt cancels the statement under way, and pgx closes a connection whose
		// statement was cancelled: drop the schema over a new one then.
		dropConn := conn
		if conn.IsClosed() {
			c, err := pgx.ConnectConfig(dctx, conn.Config())
			if err != nil {
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			dropConn = c
		}
		_, _ = dropConn.Exec(dctx, "DROP SCHEMA IF EXISTS "+qs+" CASCADE")
	}()

	cur := pgx.Identifier{schema, "current"}.Sanitize()
	prop := pgx.Identifier{schema, "proposed"}.Sanitize()
	with := ""
	if t.Page.Fillfactor > 0 && t.Page.Fillfactor < 100 {
		with = fmt.Sprintf(" WITH (fillfactor = %d)", t.Page.Fillfactor)
	}
	// The current layout, dropped columns included as placeholders (any type: they are NULL in
	// every row the copy writes, so only their count matters).
	var defs, drops []string
	for _, c := range t.Columns {
		if c.Dropped {
			name := fmt.Sprintf("pgscale_dropped_%d", c.Num)
			defs = append(defs, pgx.Identifier{name}.Sanitize()+" boolean")
			drops = append(drops, "DROP COLUMN "+pgx.Identifier{name}.Sanitize())
			continue
		}
		defs = append(defs, copyDef(c))
	}
	stmts := []string{"CREATE TABLE " + cur + " (" + strings.Join(defs, ", ") + ")" + with}
	if len(drops) > 0 {
		stmts = append(stmts, "ALTER TABLE "+cur+" "+strings.Join(drops, ", "))
	}
	var propDefs []string
	for _, c := range a.Order {
		propDefs = append(propDefs, copyDef(c))
	}
	stmts = append(stmts, "CREATE TABLE "+prop+" ("+strings.Join(propDefs, ", ")+")"+with)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("columns verify %s: %w", t.Display(), err)
		}
	}

	live := names(t.Live())
	v := &Verification{Method: fmt.Sprintf("first %d rows", sample)}
	from := t.Qualified()
	if t.RelTuples > float64(sample)*sampleOversample {
		pct := 100 * float64(sample) * sampleOversample / t.RelTuples
		from += fmt.Sprintf(" TABLESAMPLE SYSTEM (%g)", pct)
		v.Method = fmt.Sprintf("TABLESAMPLE SYSTEM (%.4g%%), at most %d rows", pct, sample)
	}
	copySQL := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s LIMIT %d", cur, live, live, from, sample)
	tag, err := conn.Exec(ctx, copySQL)
	if err != nil {
		return nil, fmt.Errorf("columns verify %s: copy the sample: %w", t.Display(), err)
	}
	if tag.RowsAffected() == 0 && t.RelTuples > 0 && strings.Contains(from, "TABLESAMPLE") {
		// The pages sampled were empty (a table of mostly dead rows): take rows in table order.
		v.Method = fmt.Sprintf("first %d rows (the page sample was empty)", sample)
		if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s LIMIT %d", cur, live, live, t.Qualified(), sample)); err != nil {
			return nil, fmt.Errorf("columns verify %s: copy the sample: %w", t.Display(), err)
		}
	}
	order := names(a.Order)
	if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", prop, order, order, cur)); err != nil {
		return nil, fmt.Errorf("columns verify %s: copy into the proposed order: %w", t.Display(), err)
	}
	if err := measureCopy(ctx, conn, cur, &v.SampleRows, &v.CurrentHeapBytes, &v.CurrentTotalBytes, &v.CurrentTupleBytes); err != nil {
		return nil, fmt.Errorf("columns verify %s: %w", t.Display(), err)
	}
	var propRows int64
	if err := measureCopy(ctx, conn, prop, &propRows, &v.ProposedHeapBytes, &v.ProposedTotalBytes, &v.ProposedTupleBytes); err != nil {
		return nil, fmt.Errorf("columns verify %s: %w", t.Display(), err)
	}
	if v.SampleRows > 0 {
		v.CurrentRowBytes = float64(v.CurrentHeapBytes) / float64(v.SampleRows)
		v.ProposedRowBytes = float64(v.ProposedHeapBytes) / float64(v.SampleRows)
	}
	if v.CurrentHeapBytes > 0 {
		v.HeapSavingPct = 100 * float64(v.CurrentHeapBytes-v.ProposedHeapBytes) / float64(v.CurrentHeapBytes)
	}
	if v.CurrentTupleBytes > 0 {
		v.TupleSavingPct = 100 * (v.CurrentTupleBytes - v.ProposedTupleBytes) / v.CurrentTupleBytes
	}
	return v, nil
}

// copyDef defines a column of a verification copy: its type and NOT NULL only, so that generated
// and identity columns take the copied values as they are.
func copyDef(c Column) string {
	def := pgx.Identifier{c.Name}.Sanitize() + " " + c.Type
	if c.Collation != "" {
		def += " COLLATE " + c.Collation
	}
	if c.NotNull {
		def += " NOT NULL"
	}
	return def
}

func names(cols []Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	return strings.Join(out, ", ")
}

func measureCopy(ctx context.Context, conn *pgx.Conn, table string, rows, heap, total *int64, tuple *float64) error {
	err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), coalesce(avg(pg_column_size(t.*)), 0)::float8,
		pg_relation_size('%[1]s'), pg_total_relation_size('%[1]s') FROM %[1]s t`, strings.ReplaceAll(table, "'", "''"))).
		Scan(rows, tuple, heap, total)
	if err != nil {
		return fmt.Errorf("measure %s: %w", table, err)
	}
	return nil
}
