package script

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// genExpr builds a random expression of the given depth.
func genExpr(r *rand.Rand, depth int) string {
	if depth <= 0 || r.IntN(4) == 0 {
		atoms := []string{"0", "1", "2", "-3", "7", "9223372036854775807", "2.5", "0.0", "-1.5", "true", "false", "null", ":i", ":d", ":t", ":n", "1e3"}
		return atoms[r.IntN(len(atoms))]
	}
	switch r.IntN(6) {
	case 0:
		ops := []string{"+", "-", "*", "/", "%", "&", "|", "#", "<<", ">>", "=", "<>", "<", "<=", ">", ">=", "and", "or"}
		return genExpr(r, depth-1) + " " + ops[r.IntN(len(ops))] + " " + genExpr(r, depth-1)
	case 1:
		pre := []string{"-", "~", "not ", "+"}
		return pre[r.IntN(len(pre))] + genExpr(r, depth-1)
	case 2:
		return "(" + genExpr(r, depth-1) + ")"
	case 3:
		post := []string{" is null", " is not null", " isnull", " notnull", " is true", " is not false"}
		return genExpr(r, depth-1) + post[r.IntN(len(post))]
	case 4:
		return "case when " + genExpr(r, depth-1) + " then " + genExpr(r, depth-1) + " else " + genExpr(r, depth-1) + " end"
	}
	fns := []string{"int(%s)", "double(%s)", "greatest(%s, %s)", "least(%s, %s, 1)", "mod(%s, %s)", "hash(%s, %s)", "hash_fnv1a(%s, %s)", "sqrt(%s)", "pow(%s, %s)", "exp(%s)", "ln(%s)"}
	f := fns[r.IntN(len(fns))]
	n := strings.Count(f, "%s")
	args := make([]any, n)
	for i := range args {
		args[i] = genExpr(r, depth-1)
	}
	return fmt.Sprintf(f, args...)
}

// TestRandomExpressionsMatchPgbench generates expressions mixing every operator, NULLs, booleans,
// doubles, overflowing integers and the deterministic functions, evaluates each under pgbench's
// debug() and here, and requires the same result or the same run-time error message. (abs() of
// a boolean is left out: pgbench returns an arbitrary double for it, here it is an error.)
func TestRandomExpressionsMatchPgbench(t *testing.T) {
	dsn := serverDSN(t)
	bin := pgbenchPath(t)
	r := rand.New(rand.NewPCG(17, 2026))
	dir := t.TempDir()
	bad := 0
	for n := 0; n < 150; n++ {
		e := genExpr(r, 4)
		file := dir + "/e.sql"
		if err := os.WriteFile(file, []byte("\\set x debug("+e+")\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-n", "-t", "1", "-f", file, "-D", "client_id=3", "-D", "scale=1"}
		for k, v := range testVars {
			args = append(args, "-D", k+"="+v)
		}
		out, _ := exec.Command(bin, append(args, dsn)...).CombinedOutput()
		var pg string
		for _, line := range strings.Split(string(out), "\n") {
			if i := strings.Index(line, "): "); strings.HasPrefix(line, "debug(") && i > 0 {
				pg = line[i+3:]
				break
			}
			if strings.HasPrefix(line, "pgbench: error: ") && !strings.Contains(line, "aborted") {
				pg = "error: " + strings.TrimPrefix(line, "pgbench: error: ")
				break
			}
		}
		mine, err := evalForTest(t, e)
		if err != nil {
			mine = "error: " + err.Error()
		}
		pgIsErr, mineIsErr := strings.HasPrefix(pg, "error"), strings.HasPrefix(mine, "error")
		if pg == "" {
			t.Fatalf("%s: no result from pgbench:\n%s", e, out)
		}
		// Syntax errors are worded differently (pgbench has no column-precise messages).
		if pg != mine && !(pgIsErr && mineIsErr && strings.Contains(pg, "syntax")) {
			bad++
			t.Errorf("%s\n  pgbench: %s\n  mine:    %s", e, pg, mine)
		}
	}
	if bad > 0 {
		t.Logf("%d of 150 expressions differ", bad)
	}
}
