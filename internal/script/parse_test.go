package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSQLCommands(t *testing.T) {
	src := `-- a comment line
\set aid random(1, 10)
UPDATE t
   SET v = v + :delta -- a comment with a ; in it
 WHERE id = :aid AND s = 'a;b' AND q = "x;y" AND d = $$;$$ AND f(1;2) = 0;
SELECT 1 \; SELECT 2 AS two, 3 AS three \gset p_
SELECT 4 AS four \; SELECT 5 AS five \aset
SELECT :x::int, E'\';' AS e, $tag$ :no $tag$ /* ; /* nested ; */ */
\sleep 10 ms
/* only a comment */ ;
-- a comment
SELECT 'tail without semicolon'`
	s, err := Parse("f.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range s.Commands {
		got = append(got, c.Label)
	}
	want := []string{
		`f.sql:2: \set aid random(1, 10)`,
		`f.sql:3: UPDATE t`,
		`f.sql:6: SELECT 1`,
		`f.sql:7: SELECT 4 AS four`,
		`f.sql:8: SELECT :x::int, E'\';' AS e, $tag$ :no $tag$ /* ; /* nested ; */ */`,
		`f.sql:9: \sleep 10 ms`,
		`f.sql:12: SELECT 'tail without semicolon'`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("labels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	upd := s.Commands[1]
	if len(upd.parts) != 1 || strings.Join(upd.parts[0].vars, ",") != "delta,aid" {
		t.Errorf("UPDATE variables %v, want delta,aid", upd.parts[0].vars)
	}
	if !strings.Contains(upd.parts[0].params, "v + $1") || !strings.Contains(upd.parts[0].params, "id = $2") {
		t.Errorf("UPDATE with parameters: %q", upd.parts[0].params)
	}
	g := s.Commands[2]
	if g.store != storeGset || g.prefix != "p_" || len(g.parts) != 2 || g.parts[1].params != "SELECT 2 AS two, 3 AS three" {
		t.Errorf("\\gset compound parsed as store=%d prefix=%q parts=%d", g.store, g.prefix, len(g.parts))
	}
	if a := s.Commands[3]; a.store != storeAset || len(a.parts) != 2 {
		t.Errorf("\\aset compound parsed as store=%d parts=%d", a.store, len(a.parts))
	}
	cast := s.Commands[4].parts[0]
	if strings.Join(cast.vars, ",") != "x,no" || !strings.HasPrefix(cast.params, "SELECT $1::int") {
		t.Errorf("cast and quoted text: vars %v params %q", cast.vars, cast.params)
	}
	if sl := s.Commands[5]; sl.sleepN != 10 || sl.sleep != time.Millisecond {
		t.Errorf("\\sleep 10 ms parsed as %d × %v", sl.sleepN, sl.sleep)
	}
}

func TestParseConditionals(t *testing.T) {
	src := "\\if :a\nSELECT 1;\n\\elif :b\n\\if :c\nSELECT 2;\n\\endif\n\\else\nSELECT 3;\n\\endif\n"
	s, err := Parse("f.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Commands // 0 if, 1 sql, 2 elif, 3 if, 4 sql, 5 endif, 6 else, 7 sql, 8 endif
	if c[0].jump != 2 || c[2].jump != 6 || c[3].jump != 5 || c[2].end != 8 || c[6].end != 8 {
		t.Errorf("jumps: if→%d elif→%d inner if→%d, ends elif→%d else→%d", c[0].jump, c[2].jump, c[3].jump, c[2].end, c[6].end)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"\\shell rm -rf /", "f.sql:1:1: \\shell is refused: a benchmark script may not run commands on the load machine"},
		{"SELECT 1;\n  \\setshell x echo 1", "f.sql:2:3: \\setshell is refused: a benchmark script may not run commands on the load machine"},
		{"\\foo bar", "f.sql:1:1: unknown meta-command \\foo (valid: \\aset, \\elif, \\else, \\endif, \\endpipeline, \\gset, \\if, \\set, \\sleep, \\startpipeline, \\syncpipeline)"},
		{"\\set", "f.sql:1:5: \\set: missing argument"},
		{"\\set 1x 2", "f.sql:1:6: \\set: invalid variable name \"1x\" (letters, digits and underscores, not starting with a digit)"},
		{"\\sleep 10 min", "f.sql:1:11: \\sleep: unknown time unit \"min\" (valid: us, ms, s)"},
		{"\\sleep ten", "f.sql:1:8: \\sleep: invalid time \"ten\" (a non-negative integer or a :variable)"},
		{"\\sleep 1 s extra", "f.sql:1:12: \\sleep: unexpected argument \"extra\""},
		{"\\gset", "f.sql:1:1: \\gset must follow an SQL command"},
		{"SELECT 1 \\gset\n\\gset", "f.sql:2:1: \\gset cannot follow \\gset or \\aset"},
		{"\\if true\n\\else\n\\elif false\n\\endif", "f.sql:3:1: \\elif after \\else"},
		{"\\if true\n\\else\n\\else\n\\endif", "f.sql:3:1: \\else after \\else"},
		{"\\else", "f.sql:1:1: \\else without a matching \\if"},
		{"\\endif", "f.sql:1:1: \\endif without a matching \\if"},
		{"SELECT 1;\n\\if true\nSELECT 2;", "f.sql:2:1: \\if without a matching \\endif"},
		{"\\endif extra", "f.sql:1:8: \\endif: unexpected argument \"extra\""},
		{"\\startpipeline\nSELECT 1;", "f.sql:1:1: \\startpipeline without a matching \\endpipeline"},
		{"\\startpipeline\n\\startpipeline", "f.sql:2:1: \\startpipeline inside a pipeline (started at line 1)"},
		{"\\endpipeline", "f.sql:1:1: \\endpipeline outside a pipeline: expected \\startpipeline first"},
		{"\\startpipeline\nSELECT 1 \\gset\n\\endpipeline", "f.sql:2:10: \\gset cannot be used inside a pipeline: results are not available until \\endpipeline"},
		{"SELECT 'abc", "f.sql:1:8: unterminated string: expected a closing '"},
		{"SELECT 1;\nSELECT $x$ abc", "f.sql:2:8: unterminated dollar-quoted string: expected a closing $x$"},
		{"SELECT /* abc", "f.sql:1:8: unterminated /* comment: expected */"},
		{"-- nothing\n\n", "f.sql:1:1: the script has no commands"},
	} {
		_, err := Parse("f.sql", []byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v\n want %s", tc.src, err, tc.want)
		}
	}
}

func TestSpecsAndMix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sql")
	if err := os.WriteFile(path, []byte("SELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSpec(path + "@3")
	if err != nil || s.Weight != 3 || s.Name != path {
		t.Fatalf("ParseSpec(path@3) = %+v, %v", s, err)
	}
	for spec, want := range map[string]string{
		path + "@0":             "invalid weight \"0\" in \"" + path + "@0\": a positive integer is required",
		path + "@-2":            "invalid weight \"-2\" in \"" + path + "@-2\": a positive integer is required",
		filepath.Join(dir, "x"): "script file \"" + filepath.Join(dir, "x") + "\" does not exist",
	} {
		if _, err := ParseSpec(spec); err == nil || err.Error() != want {
			t.Errorf("ParseSpec(%q): %v, want %q", spec, err, want)
		}
	}
	at := filepath.Join(dir, "a@b.sql")
	if err := os.WriteFile(at, []byte("SELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ParseSpec(at); err != nil || s.Name != at || s.Weight != 1 {
		t.Errorf("ParseSpec(%q) = %+v, %v", at, s, err)
	}
	b, err := Builtin("select@2")
	if err != nil || b.Name != "builtin: select-only" || b.Weight != 2 {
		t.Fatalf("Builtin(select@2) = %+v, %v", b, err)
	}
	if _, err := Builtin("tpcc"); err == nil || err.Error() != "unknown built-in script \"tpcc\" (valid: tpcb-like, simple-update, select-only)" {
		t.Errorf("Builtin(tpcc): %v", err)
	}
	if _, err := NewMix(nil); err == nil {
		t.Error("NewMix(nil) accepted no scripts")
	}
	if _, err := NewMix([]*Script{{Name: "z", Weight: 0}}); err == nil || err.Error() != "script z has weight 0: weights must be positive integers" {
		t.Errorf("NewMix with weight 0: %v", err)
	}
	m, err := NewMix([]*Script{s, b})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRand()
	counts := [2]int{}
	for i := 0; i < 50000; i++ {
		counts[m.Pick(r)]++
	}
	if ratio := float64(counts[0]) / float64(counts[1]); ratio < 1.4 || ratio > 1.6 {
		t.Errorf("weights 3:2 picked %d:%d", counts[0], counts[1])
	}
	pipe, err := Parse("p.sql", []byte("\\startpipeline\nSELECT 1;\n\\endpipeline\n"))
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := NewMix([]*Script{pipe})
	if err := pm.Check(Options{}); err == nil || err.Error() != "script p.sql uses \\startpipeline, which needs the extended or prepared protocol (not simple)" {
		t.Errorf("Check(simple) on a pipeline: %v", err)
	}
	if err := pm.Check(Options{Protocol: "binary"}); err == nil || err.Error() != "unknown protocol \"binary\" (valid: simple, extended, prepared)" {
		t.Errorf("Check(binary): %v", err)
	}
	if err := pm.Check(Options{Protocol: ProtocolExtended, Vars: map[string]string{"a-b": "1"}}); err == nil {
		t.Error("Check accepted the variable name a-b")
	}
}
