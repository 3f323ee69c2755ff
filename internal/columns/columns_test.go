package columns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/columns"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/usage"
)

// Tolerances of the model against what the server measures, on tables of 10,000 rows filled at
// random. Fixed-width layouts are exact (up to the random NULLs); the model takes the length of
// variable-length values as evenly spread modulo 8 and guesses their spread, which costs it under
// 0.7% on the tables below (measured: 0.0 to 0.4% on tuples, 0.1 to 0.7% on heap bytes per row,
// the last, half-empty page included).
const (
	tupleTolerancePct = 1.0
	heapTolerancePct  = 1.5
)

// startLocal gives one test a database of its own on the package's shared server, dropped when
// the test ends, however it ends, and a connection to it.
func startLocal(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dsn := harnesstest.Database(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return dsn, conn
}

func exec(t *testing.T, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func analyze(t *testing.T, conn *pgx.Conn, table string) *columns.Analysis {
	t.Helper()
	as, err := columns.AnalyzeSelection(context.Background(), conn, columns.Selection{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Fatalf("%d analyses of %s, want 1", len(as), table)
	}
	return as[0]
}

// measured is PostgreSQL's own account of a table: rows, avg(pg_column_size(row)) and
// pg_relation_size ÷ rows.
func measured(t *testing.T, conn *pgx.Conn, table string) (rows int64, tuple, heapPerRow float64) {
	t.Helper()
	var heap int64
	err := conn.QueryRow(context.Background(), fmt.Sprintf(
		"SELECT count(*), avg(pg_column_size(t.*))::float8, pg_relation_size('%s') FROM %s t", table, table)).Scan(&rows, &tuple, &heap)
	if err != nil {
		t.Fatal(err)
	}
	return rows, tuple, float64(heap) / float64(rows)
}

func within(got, want, pct float64) bool { return math.Abs(got-want) <= want*pct/100 }

// layouts are generated tables, adversarial ones included, each filled with 10,000 rows.
var layouts = []struct {
	name, columns, values string
	toasted               bool // pg_column_size of a row inlines TOAST: compare the heap only
}{
	{"bool_int8_alternating",
		"a1 bool NOT NULL, b1 int8 NOT NULL, a2 bool NOT NULL, b2 int8 NOT NULL, a3 bool NOT NULL, b3 int8 NOT NULL, a4 bool NOT NULL, b4 int8 NOT NULL",
		"true, i, false, i * 2, true, i * 3, false, i * 4", false},
	{"bool_int8_nullable",
		"a1 bool, b1 int8, a2 bool, b2 int8, c int2, d int4, a3 bool, b3 timestamptz",
		"CASE WHEN random() < 0.3 THEN NULL ELSE true END, CASE WHEN random() < 0.4 THEN NULL ELSE i END, " +
			"CASE WHEN random() < 0.5 THEN NULL ELSE false END, i, CASE WHEN random() < 0.2 THEN NULL ELSE 1 END, " +
			"CASE WHEN random() < 0.6 THEN NULL ELSE i END, true, now()", false},
	{"int2_float8_date_uuid",
		"s1 int2 NOT NULL, f1 float8 NOT NULL, s2 int2, d date NOT NULL, u uuid, f2 float8, c \"char\" NOT NULL, i4 int4",
		"1, random(), CASE WHEN random() < 0.5 THEN NULL ELSE 2 END, current_date, gen_random_uuid(), " +
			"CASE WHEN random() < 0.3 THEN NULL ELSE random() END, 'x', i", false},
	{"mixed_varlena",
		"flag bool NOT NULL, created_at timestamptz NOT NULL, status text NOT NULL, amount numeric(12,2), n int4, " +
			"note text, ref int8, meta jsonb NOT NULL, k int2 NOT NULL, seen timestamptz",
		"random() < 0.5, now(), (ARRAY['active','pending','archived','on_hold'])[1 + (i % 4)], " +
			"round((random() * 100000)::numeric, 2), i, CASE WHEN random() < 0.7 THEN NULL ELSE repeat('n', 5 + (random() * 60)::int) END, " +
			"CASE WHEN random() < 0.3 THEN NULL ELSE i END, jsonb_build_object('v', i, 'tags', repeat('t', (random() * 30)::int)), " +
			"3, CASE WHEN random() < 0.5 THEN NULL ELSE now() END", false},
	{"wide_flags_before_timestamps", wideFlagsColumns(), wideFlagsValues(), false},
	{"long_and_toasted_text",
		"a bool NOT NULL, long_text text NOT NULL, b int8 NOT NULL, huge text, c int4 NOT NULL",
		"true, repeat('L', 150 + (random() * 100)::int), i, " +
			"CASE WHEN random() < 0.5 THEN NULL ELSE (SELECT string_agg(md5(random()::text || g::text), '') FROM generate_series(1, 100 + i % 3) g) END, 7",
		true},
}

// wideFlags is a wide table whose rows vary little (about 540 bytes, 15 to a page): 30 flags
// each followed by its timestamp, and a nullable note. It checks how rows pack into pages.
func wideFlagsColumns() string {
	cols := []string{"id int8 NOT NULL"}
	for i := 1; i <= 30; i++ {
		cols = append(cols, fmt.Sprintf("f%d bool NOT NULL, f%d_at timestamptz NOT NULL", i, i))
	}
	return strings.Join(append(cols, "note text"), ", ")
}

func wideFlagsValues() string {
	vals := []string{"i"}
	for i := 1; i <= 30; i++ {
		vals = append(vals, "random() < 0.5, now()")
	}
	return strings.Join(append(vals, "CASE WHEN random() < 0.2 THEN NULL ELSE repeat('n', 5 + (random() * 35)::int) END"), ", ")
}

func TestModelMatchesServer(t *testing.T) {
	t.Parallel()
	_, conn := startLocal(t)
	exec(t, conn, "SELECT setseed(0.42)")
	for _, l := range layouts {
		exec(t, conn,
			fmt.Sprintf("CREATE TABLE %s (%s)", l.name, l.columns),
			fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(1, 10000) i", l.name, l.values),
			"ANALYZE "+l.name)
	}
	// A dropped column: every row inserted after the drop carries a null bitmap.
	exec(t, conn,
		"CREATE TABLE with_dropped (a int8 NOT NULL, gone int4, b int4 NOT NULL, c int8 NOT NULL)",
		"ALTER TABLE with_dropped DROP COLUMN gone",
		"INSERT INTO with_dropped SELECT i, i, i FROM generate_series(1, 10000) i",
		"ANALYZE with_dropped")
	names := []string{"with_dropped"}
	toasted := map[string]bool{}
	for _, l := range layouts {
		names = append(names, l.name)
		toasted[l.name] = l.toasted
	}
	for _, name := range names {
		a := analyze(t, conn, name)
		rows, tuple, heap := measured(t, conn, name)
		t.Logf("%-22s rows %d  tuple model %6.1f server %6.1f  heap/row model %6.1f server %6.1f  padding %5.1f -> %4.1f (saving %.1f%%)",
			name, rows, a.Current.TupleBytes, tuple, a.Current.HeapBytesPerRow, heap, a.Current.PaddingBytes, a.Proposed.PaddingBytes, a.SavingPct)
		if !toasted[name] && !within(a.Current.TupleBytes, tuple, tupleTolerancePct) {
			t.Errorf("%s: model tuple %.1f bytes, server avg(pg_column_size(row)) %.1f: more than %.0f%% apart", name, a.Current.TupleBytes, tuple, tupleTolerancePct)
		}
		if !within(a.Current.HeapBytesPerRow, heap, heapTolerancePct) {
			t.Errorf("%s: model heap %.1f bytes/row, server pg_relation_size÷rows %.1f: more than %.0f%% apart", name, a.Current.HeapBytesPerRow, heap, heapTolerancePct)
		}
	}
}

// TestProposedOrderHasNoPaddingAndItsDDLRuns runs the analyzer's DDL on the server: the copy it
// builds is smaller, has the proposed order, and its rows have no padding between columns.
func TestProposedOrderHasNoPaddingAndItsDDLRuns(t *testing.T) {
	t.Parallel()
	_, conn := startLocal(t)
	exec(t, conn,
		"SELECT setseed(0.7)",
		`CREATE TABLE app_events (
			id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, active bool NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
			kind int2 NOT NULL, ref int8, "Mixed Case" bool, amount numeric(10,2) CHECK (amount >= 0), score float8,
			note text COLLATE "C", tenant int4 NOT NULL, doubled int8 GENERATED ALWAYS AS (kind * 2) STORED, day date)`,
		"CREATE INDEX app_events_tenant ON app_events (tenant)",
		`INSERT INTO app_events (active, kind, ref, "Mixed Case", amount, score, note, tenant, day)
			SELECT random() < 0.5, i % 100, CASE WHEN random() < 0.3 THEN NULL ELSE i END, random() < 0.5, i % 1000,
				random(), CASE WHEN random() < 0.5 THEN NULL ELSE 'note ' || i END, i % 7, current_date
			FROM generate_series(1, 5000) i`,
		"ANALYZE app_events")
	a := analyze(t, conn, "app_events")
	if a.Proposed.PaddingBytes > 0.01 {
		t.Errorf("proposed order has %.2f bytes of padding per row, want none: %v", a.Proposed.PaddingBytes, columnNames(a.Order))
	}
	if !(a.Current.PaddingBytes > a.Proposed.PaddingBytes) || a.SavingPct <= 0 {
		t.Errorf("padding now %.1f, proposed %.1f, saving %.1f%%: want a saving", a.Current.PaddingBytes, a.Proposed.PaddingBytes, a.SavingPct)
	}
	if _, err := conn.Exec(context.Background(), a.DDL); err != nil {
		t.Fatalf("the proposed DDL does not run: %v\n%s", err, a.DDL)
	}
	exec(t, conn, "ANALYZE app_events_reordered")
	b := analyze(t, conn, "app_events_reordered")
	if got, want := columnNames(b.Table.Live()), columnNames(a.Order); got != want {
		t.Errorf("reordered table has columns %s, want %s", got, want)
	}
	_, tupleOld, heapOld := measured(t, conn, "app_events")
	rows, tupleNew, heapNew := measured(t, conn, "app_events_reordered")
	if rows != 5000 || !(heapNew < heapOld) || !(tupleNew < tupleOld) {
		t.Errorf("reordered: %d rows, heap %.1f -> %.1f B/row, tuple %.1f -> %.1f: want 5000 rows, smaller", rows, heapOld, heapNew, tupleOld, tupleNew)
	}
	if b.Current.PaddingBytes > 0.01 || b.SavingPct > 0.01 {
		t.Errorf("the reordered table still has %.2f bytes of padding (saving %.2f%%)", b.Current.PaddingBytes, b.SavingPct)
	}
	for _, want := range []string{`"Mixed Case"`, `COLLATE pg_catalog."C"`, "GENERATED ALWAYS AS ((kind * 2)) STORED",
		"GENERATED ALWAYS AS IDENTITY", "DEFAULT now()", "OVERRIDING SYSTEM VALUE", "ADD PRIMARY KEY (id)", "CHECK ((amount >= (0)::numeric))",
		`CREATE INDEX app_events_tenant ON "public"."app_events_reordered" USING btree (tenant)`} {
		if !strings.Contains(a.DDL, want) {
			t.Errorf("DDL lacks %s:\n%s", want, a.DDL)
		}
	}
}

// TestReorderDDLSurvivesTheSwap applies the proposed DDL, drops the old table, renames the copy
// and inserts rows: a serial's sequence moved with its column (dropping the old table would
// otherwise fail, or with CASCADE take the copy's default), and an identity column continues
// past the copied values.
func TestReorderDDLSurvivesTheSwap(t *testing.T) {
	t.Parallel()
	_, conn := startLocal(t)
	exec(t, conn,
		`CREATE TABLE orders (flag bool, id serial PRIMARY KEY, note text, amount int8, ident int8 GENERATED BY DEFAULT AS IDENTITY)`,
		"CREATE INDEX orders_note ON orders (note)",
		"INSERT INTO orders (flag, note, amount) SELECT i % 2 = 0, 'n' || i, i FROM generate_series(1, 100) i",
		"ANALYZE orders")
	a := analyze(t, conn, "orders")
	for _, want := range []string{"ALTER SEQUENCE public.orders_id_seq OWNED BY", "setval(pg_get_serial_sequence(",
		`CREATE INDEX orders_note ON "public"."orders_reordered" USING btree (note)`,
		"DROP TABLE \"public\".\"orders\"; ALTER TABLE \"public\".\"orders_reordered\" RENAME TO \"orders\""} {
		if !strings.Contains(a.DDL, want) {
			t.Errorf("DDL lacks %s:\n%s", want, a.DDL)
		}
	}
	if strings.Contains(a.DDL, "ON public.orders USING") {
		t.Errorf("DDL still names the old table in an index:\n%s", a.DDL)
	}
	if _, err := conn.Exec(context.Background(), a.DDL); err != nil {
		t.Fatalf("the proposed DDL does not run: %v\n%s", err, a.DDL)
	}
	exec(t, conn, "DROP TABLE orders", "ALTER TABLE orders_reordered RENAME TO orders",
		"INSERT INTO orders (flag, note, amount) VALUES (true, 'after', 1)")
	var id, ident, rows int64
	if err := conn.QueryRow(context.Background(), "SELECT max(id), max(ident), count(*) FROM orders").Scan(&id, &ident, &rows); err != nil {
		t.Fatal(err)
	}
	if id != 101 || ident != 101 || rows != 101 {
		t.Errorf("after the swap: max(id) %d, max(ident) %d, %d rows; want 101, 101, 101", id, ident, rows)
	}
}

func columnNames(cols []columns.Column) string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// fingerprint is everything a read-only analyzer must leave alone: the table's rows, files,
// columns and statistics counters, and the list of schemas.
func fingerprint(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var fp string
	err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT concat_ws(' | ',
		(SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM %[1]s t),
		(SELECT relfilenode || ':' || pg_relation_size(oid) FROM pg_class WHERE oid = '%[1]s'::regclass),
		(SELECT string_agg(attname || ' ' || atttypid || ' ' || attnotnull, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '%[1]s'::regclass AND attnum > 0),
		(SELECT n_tup_ins || '/' || n_tup_upd || '/' || n_tup_del FROM pg_stat_user_tables WHERE relid = '%[1]s'::regclass),
		(SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace))`, table)).Scan(&fp)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestVerifyMeasuresAndLeavesTheTableAlone drives `pgscale columns --verify` end to end (text
// and JSON): the sample copies show the saving the model predicts, and the analyzed table, its
// schema and the list of schemas are as they were.
func TestVerifyMeasuresAndLeavesTheTableAlone(t *testing.T) {
	t.Parallel()
	dsn, conn := startLocal(t)
	exec(t, conn,
		"SELECT setseed(0.1)",
		"CREATE SCHEMA shop",
		"CREATE TABLE shop.orders (paid bool NOT NULL, id int8 NOT NULL, gift bool, total int8, dropme int4, shipped bool NOT NULL, placed timestamptz NOT NULL, note text)",
		"ALTER TABLE shop.orders DROP COLUMN dropme",
		`INSERT INTO shop.orders SELECT random() < 0.5, i, CASE WHEN random() < 0.2 THEN NULL ELSE true END, i * 3, random() < 0.5, now(),
			CASE WHEN random() < 0.6 THEN NULL ELSE repeat('x', (random() * 40)::int) END FROM generate_series(1, 30000) i`,
		"ANALYZE shop.orders")
	// A table no test selects: --schema shop must list only this schema's.
	exec(t, conn, "CREATE TABLE public.other (a int)")
	// The fingerprint holds the table's insert counter, which PostgreSQL 15 writes to shared
	// statistics when the inserting backend next flushes them (at most once a second): taken
	// before that flush, it read 0 and then 30000, as if the analyzer had written (seen once on
	// a loaded machine). Flush now, and wait until the counter shows the rows.
	exec(t, conn, "SELECT pg_stat_force_next_flush()")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var inserted int64
		if err := conn.QueryRow(context.Background(), `SELECT coalesce((SELECT n_tup_ins FROM pg_stat_user_tables
			WHERE relid = 'shop.orders'::regclass), 0)`).Scan(&inserted); err != nil {
			t.Fatal(err)
		}
		if inserted == 30000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shop.orders: the statistics show %d rows inserted after 10 s, want 30000", inserted)
		}
	}
	before := fingerprint(t, conn, "shop.orders")

	var out bytes.Buffer
	opts := columns.Options{DSN: dsn, Schema: "shop", Verify: true, Sample: 8000, JSON: true}
	if err := columns.Run(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	var rep columns.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Table != "shop.orders" {
		t.Fatalf("--schema shop analyzed %+v, want shop.orders only", rep.Tables)
	}
	tr := rep.Tables[0]
	v := tr.Verify
	if v == nil || v.SampleRows < 4000 || v.SampleRows > 8000 {
		t.Fatalf("verify: %+v, want a sample of 4,000 to 8,000 rows", v)
	}
	t.Logf("model %.1f -> %.1f B/row (%.1f%%); verify tuple %.1f -> %.1f (%.1f%%), heap %.1f -> %.1f B/row (%.1f%%) over %d rows",
		tr.CurrentBytesPerRow, tr.ProposedBytesPerRow, tr.SavingPct, v.CurrentTupleBytes, v.ProposedTupleBytes, v.TupleSavingPct,
		v.CurrentRowBytes, v.ProposedRowBytes, v.HeapSavingPct, v.SampleRows)
	if !(v.ProposedHeapBytes < v.CurrentHeapBytes) {
		t.Errorf("verify: proposed heap %d bytes, current %d: want smaller", v.ProposedHeapBytes, v.CurrentHeapBytes)
	}
	if !within(tr.Current.TupleBytes, v.CurrentTupleBytes, tupleTolerancePct) || !within(tr.Proposed.TupleBytes, v.ProposedTupleBytes, tupleTolerancePct) {
		t.Errorf("model tuple bytes %.1f -> %.1f, measured on the sample %.1f -> %.1f: more than %.0f%% apart",
			tr.Current.TupleBytes, tr.Proposed.TupleBytes, v.CurrentTupleBytes, v.ProposedTupleBytes, tupleTolerancePct)
	}
	if math.Abs(tr.SavingPct-v.HeapSavingPct) > 2 {
		t.Errorf("model saving %.1f%%, verified %.1f%%: more than 2 points apart", tr.SavingPct, v.HeapSavingPct)
	}
	if len(tr.ProposedOrder) != 7 || tr.ProposedOrder[0] != "id" || tr.Rows != 30000 {
		t.Errorf("proposed order %v, rows %v: want the 7 live columns, id first, 30000 rows", tr.ProposedOrder, tr.Rows)
	}

	out.Reset()
	opts = columns.Options{DSN: dsn, Table: "shop.orders", Verify: true}
	if err := columns.Run(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop.orders: 7 columns (+1 dropped), 30000 rows", "alignment padding between columns",
		"saving:", "proposed order: id, placed, total, paid, shipped, gift, note", "1 dropped column(s)", "verify (", `CREATE TABLE "shop"."orders_reordered"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("pgscale columns --table shop.orders --verify:\n%s", out.String())
	if after := fingerprint(t, conn, "shop.orders"); after != before {
		t.Errorf("the analyzer changed the target:\nbefore %s\nafter  %s", before, after)
	}
}

// TestLocalDDL analyzes a CREATE TABLE file on a server pgscale starts itself.
func TestLocalDDL(t *testing.T) {
	t.Parallel()
	harnesstest.RequirePostgres(t)
	path := filepath.Join(t.TempDir(), "schema.sql")
	ddl := "CREATE SCHEMA app;\nCREATE TABLE app.flags (on1 bool NOT NULL, at1 timestamptz NOT NULL, on2 bool NOT NULL, at2 timestamptz NOT NULL, code varchar(3) NOT NULL);\n"
	if err := os.WriteFile(path, []byte(ddl), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := columns.Run(context.Background(), columns.Options{Target: harness.KindLocal, DDLFile: path, JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	var rep columns.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Table != "app.flags" {
		t.Fatalf("analyzed %+v, want app.flags", rep.Tables)
	}
	// bool, 7 bytes of padding, timestamptz, bool, 7 bytes, timestamptz: 14 bytes, none proposed.
	tr := rep.Tables[0]
	if tr.Current.PaddingBytes != 14 || tr.Proposed.PaddingBytes != 0 || strings.Join(tr.ProposedOrder, ",") != "at1,at2,on1,on2,code" {
		t.Errorf("padding %v -> %v, order %v; want 14 -> 0, at1,at2,on1,on2,code", tr.Current.PaddingBytes, tr.Proposed.PaddingBytes, tr.ProposedOrder)
	}
}

// TestBadInput: bad options, and a table or schema that does not exist, are usage errors that
// name them; a missing privilege is an error that names it.
func TestBadInput(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.sql")
	for _, c := range []struct {
		opts columns.Options
		want string
	}{
		{columns.Options{}, "--dsn is required"},
		{columns.Options{DSN: "postgres://u:hunter2@host:notaport/db"}, "is not a valid connection string"},
		{columns.Options{DSN: "host=x", DDLFile: "a.sql", Target: "dsn"}, "--ddl is only for --target local"},
		{columns.Options{Target: "local"}, "--target local needs --ddl FILE.sql"},
		{columns.Options{DDLFile: missing}, "--ddl " + missing + ": cannot read it: no such file or directory"},
		{columns.Options{Target: "k8s", DSN: "host=x"}, `--target "k8s": valid targets are dsn`},
		{columns.Options{DSN: "host=x", Sample: -1}, "--sample -1: must be at least 1"},
	} {
		err := c.opts.Validate()
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want a usage error containing %q", c.opts, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the password reached the error: %v", err)
		}
	}

	// A server of its own: the test makes a role and revokes CREATE on database postgres.
	dsn := harnesstest.Local(t).DSN()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	exec(t, conn, "CREATE SCHEMA billing", "CREATE TABLE billing.invoices (id int8)", "CREATE VIEW billing.v AS SELECT 1 AS one",
		"CREATE ROLE reader LOGIN PASSWORD 'reader-pw'", "CREATE TABLE billing.secret (id int8)", "GRANT USAGE ON SCHEMA billing TO reader",
		"GRANT SELECT ON billing.invoices TO reader")
	for _, c := range []struct {
		sel  columns.Selection
		want string
	}{
		{columns.Selection{Table: "invoices"}, `--table invoices: table "invoices" does not exist (looked for on search_path "$user", public; qualify it as schema.table) (did you mean "invoices"?)`},
		{columns.Selection{Table: "billing.invoice"}, `table "billing.invoice" does not exist`},
		{columns.Selection{Table: "nosuch.invoices"}, `table "nosuch.invoices" does not exist`},
		{columns.Selection{Schema: "biling"}, `--schema biling: schema "biling" does not exist (did you mean "billing"?)`},
		{columns.Selection{Schema: "billing", Table: "invoice"}, `--table invoice: table "invoice" does not exist in schema "billing" (did you mean "invoices"?)`},
		{columns.Selection{Table: "billing.v"}, "--table billing.v: billing.v is a view, not a table"},
		{columns.Selection{Table: "a.b.c.d"}, "--table a.b.c.d: not a table name"},
	} {
		_, err := columns.AnalyzeSelection(context.Background(), conn, c.sel)
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want a usage error containing %q", c.sel, err, c.want)
		}
	}

	// Without SELECT on a table pg_stats hides its statistics: analyzing it is an error naming the
	// privilege; --verify without CREATE on the database names that one.
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = "reader"
	readerDSN := fmt.Sprintf("postgres://reader:reader-pw@%s:%d/postgres?sslmode=disable", cfg.Host, cfg.Port)
	exec(t, conn, "REVOKE CREATE ON DATABASE postgres FROM PUBLIC")
	err = columns.Run(context.Background(), columns.Options{DSN: readerDSN, Table: "billing.secret"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "permission denied: no SELECT privilege on table billing.secret") {
		t.Errorf("no SELECT: got %v", err)
	}
	err = columns.Run(context.Background(), columns.Options{DSN: readerDSN, Table: "billing.invoices", Verify: true}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "permission denied: reader has no CREATE privilege on database postgres") {
		t.Errorf("no CREATE: got %v", err)
	}
}
