package script

import "testing"

func TestDatabaseWideFindsBareVacuumAndAnalyze(t *testing.T) {
	cases := []struct {
		sql      string
		wantLine int
		want     string
	}{
		{"CREATE TABLE t (id int);\nANALYZE;\n", 2, "ANALYZE"},
		{"analyze verbose;", 1, "analyze verbose"},
		{"INSERT INTO t VALUES (1);\n\n  VACUUM\n  (ANALYZE, VERBOSE)  ;", 3, "VACUUM (ANALYZE, VERBOSE)"},
		{"VACUUM FULL FREEZE;", 1, "VACUUM FULL FREEZE"},
		{"-- ANALYZE;\n/* VACUUM; */ SELECT 'ANALYZE;';\nVACUUM", 3, "VACUUM"},
		{"ANALYZE t;", 0, ""},
		{"ANALYZE product, customer;", 0, ""},
		{"VACUUM (ANALYZE) t;", 0, ""},
		{"VACUUM ANALYZE pgbench_history;", 0, ""},
		{"SELECT 'x; ANALYZE;'; -- ANALYZE;\n", 0, ""},
		{"CREATE TABLE analyze_log (id int);", 0, ""},
		{"INSERT INTO notes VALUES ('nightly: ANALYZE; VACUUM;');", 0, ""},
		{"INSERT INTO notes VALUES (E'it\\'s; ANALYZE;');\nANALYZE;", 2, "ANALYZE"},
		{`CREATE TABLE "x;ANALYZE" (id int);`, 0, ""},
		{"/* outer /* inner */ VACUUM; */ SELECT 1;", 0, ""},
		{"vacuum(analyze);", 1, "vacuum(analyze)"},
		{"ANALYZE VERBOSE t;", 0, ""},
		{"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; ANALYZE; END $$;", 0, ""},
		{"CREATE TABLE t (id int);\nDO $$\nBEGIN\n  ANALYZE;\nEND $$;", 4, "ANALYZE"},
		{"DO $body$ BEGIN ANALYZE t; END $body$;", 0, ""},
		{"SELECT $1, 'a$$b';\nVACUUM;", 2, "VACUUM"},
		{"ANALYZE;\nSELECT 'unterminated", 0, ""}, // the server runs none of a file it cannot parse
	}
	for _, c := range cases {
		line, stmt := databaseWide(c.sql)
		if line != c.wantLine || stmt != c.want {
			t.Errorf("databaseWide(%q) = %d, %q; want %d, %q", c.sql, line, stmt, c.wantLine, c.want)
		}
	}
}
