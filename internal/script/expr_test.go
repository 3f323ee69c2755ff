package script

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// evalCase is an expression and what pgbench 15's debug() prints for it ("int 10"), or the
// error it raises. The results were checked against pgbench itself (see TestExpressionsMatchPgbench).
type evalCase struct {
	expr string
	want string // "type text" or "error: message"
}

var evalCases = []evalCase{
	{"1 + 2 * 3", "int 7"},
	{"(1 + 2) * 3", "int 9"},
	{"7 / 2", "int 3"},
	{"-7 / 2", "int -3"},
	{"-7 % 3", "int -1"},
	{"mod(-7, 3)", "int -1"},
	{"3 - 2.0", "double 1"},
	{"1/3.0", "double 0.333333333333333"},
	{"0.1+0.2", "double 0.3"},
	{"5/0.0", "double Infinity"},
	{"int(9.7)", "int 10"},
	{"int(-9.5)", "int -10"},
	{"int(5.4 + 3.8)", "int 9"},
	{"5.5 % 2", "int 0"},
	{"~ 1", "int -2"},
	{"~ 1 + 2", "int -4"},
	{"1 # 3", "int 2"},
	{"1 | 2", "int 3"},
	{"1 & 3", "int 1"},
	{"1 << 2", "int 4"},
	{"8 >> 2", "int 2"},
	{"1 << 64", "int 1"},
	{"1 << -1", "int -9223372036854775808"},
	{"-9223372036854775808 % -1", "int 0"},
	{"abs(-9223372036854775808)", "int -9223372036854775808"},
	{"abs(-17)", "int 17"},
	{"abs(-2.5)", "double 2.5"},
	{"1 is true", "boolean false"},
	{"1 is not true", "boolean true"},
	{"true is true", "boolean true"},
	{"null is true", "boolean false"},
	{"null is null", "boolean true"},
	{"null is not null", "boolean false"},
	{"1 is null", "boolean false"},
	{"2 isnull", "boolean false"},
	{"2 notnull", "boolean true"},
	{"not true is false", "boolean true"},
	{"null is true is true", "boolean false"},
	{"1 is null is null", "boolean false"},
	{"2.5 is true notnull is not false", "boolean true"},
	{"null and false", "null"},
	{"null or true", "null"},
	{"false and null", "boolean false"},
	{"true or null", "boolean true"},
	{"true and null", "null"},
	{"not null", "null"},
	{"null = 1", "null"},
	{"1 + null", "null"},
	{"1.0 = 1", "boolean true"},
	{"1 <> 2.0", "boolean true"},
	{"5 != 5", "boolean false"},
	{"5 >= 4", "boolean true"},
	{"case when 2 then 1 else 0 end", "int 1"},
	{"case when null then 1 else 2 end", "int 2"},
	{"case when false then 1 end", "null"},
	{"case when true then 1 end is null", "boolean false"},
	{"greatest(1, 2.5, null)", "null"},
	{"greatest(5, 4, 3, 2)", "int 5"},
	{"least(5, 4, 3, 2.1)", "double 2.1"},
	{"least(1, 2)", "int 1"},
	{"double(5)", "double 5"},
	{"double(null)", "null"},
	{"pow(2, 10)", "double 1024"},
	{"power(2.0, 10)", "double 1024"},
	{"pi()", "double 3.14159265358979"},
	{"sqrt(2.0)", "double 1.4142135623731"},
	{"sqrt(-1)", "double NaN"},
	{"ln(0)", "double -Infinity"},
	{"exp(1000)", "double Infinity"},
	{"exp(1.0)", "double 2.71828182845905"},
	{"ln(2.718281828459045)", "double 1"},
	{"hash(10, 5432)", "int -5817877081768721676"},
	{"hash_murmur2(10, 5432)", "int -5817877081768721676"},
	{"hash_fnv1a(10, 5432)", "int -7793829335365542153"},
	{"hash(1.5, 5432) = hash(2, 5432)", "boolean true"},
	{"TRUE", "boolean true"},
	{"+1", "int 1"},
	{"1e3", "double 1000"},
	{".5", "double 0.5"},
	{"5.", "double 5"},
	{"1e20", "double 1e+20"},
	{"-1.5e-7", "double -1.5e-07"},
	{"123456789012345678.0", "double 1.23456789012346e+17"},
	{"-9223372036854775808", "int -9223372036854775808"},
	{":t", "boolean true"},
	{":n", "null"},
	{":d", "double 1500"},
	{":i", "int 42"},
	{"10 * :scale", "int 10"},
	{":client_id", "int 3"},
	{"9223372036854775807 + 1", "error: bigint add out of range"},
	{"-9223372036854775807 - 2", "error: bigint sub out of range"},
	{"4611686018427387904 * 2", "error: bigint mul out of range"},
	{"-(-9223372036854775808)", "error: bigint sub out of range"},
	{"-9223372036854775808 / -1", "error: bigint div out of range"},
	{"1 / 0", "error: division by zero"},
	{"1 % 0", "error: division by zero"},
	{"mod(1, 0)", "error: division by zero"},
	{"int(1e30)", "error: double to int overflow for 1000000000000000019884624838656.000000"},
	{"int(ln(0.0))", "error: double to int overflow for -Infinity"},
	{"not 0", "error: cannot coerce int to boolean"},
	{"3 and 5", "error: cannot coerce int to boolean"},
	{"false or 2.5", "error: cannot coerce double to boolean"},
	{"true = 1", "error: cannot coerce boolean to int"},
	{"true < false", "error: cannot coerce boolean to int"},
	{"true + 1", "error: cannot coerce boolean to int"},
	{"int(true)", "error: cannot coerce boolean to int"},
	{"greatest(1, true)", "error: cannot coerce boolean to int"},
	{"greatest(true, 1.5)", "error: cannot coerce boolean to double"},
	{"least(true)", "error: cannot coerce boolean to int"},
	{"1.5 + true", "error: cannot coerce boolean to double"},
	{"int(true) > not 1", "error: cannot coerce int to boolean"},
	{"double(true) >= -true", "error: cannot coerce boolean to int"},
	{"int(true) < not 1", "error: cannot coerce boolean to int"},
	{"random_zipfian(1, 2, true)", "error: cannot coerce boolean to double"},
	{"random(5, 1)", "error: empty range given to random"},
	{"random(-9223372036854775808, 9223372036854775807)", "error: random range is too large"},
	{"random_zipfian(1, 10, 1.0)", "error: zipfian parameter must be in range [1.001, 1000] (not 1.000000)"},
	{"random_gaussian(1, 10, 1.0)", "error: gaussian parameter must be at least 2.000000 (not 1.000000)"},
	{"random_exponential(1, 10, 0)", "error: exponential parameter must be greater than zero (not 0.000000)"},
	{"permute(1, 0)", "error: permute size parameter must be greater than zero"},
	{":s + 1", "error: malformed variable \"s\" value: \"abc\""},
	{":zz", "error: undefined variable \"zz\""},
}

// testVars are the -D variables of the cases above (as pgbench -D s=abc -D t=TRUE ...).
var testVars = map[string]string{"s": "abc", "t": "TRUE", "n": "null", "d": "1.5e3", "i": " 42"}

func evalForTest(t testing.TB, src string) (string, error) {
	t.Helper()
	e, err := parseExpr(src)
	if err != nil {
		return "", err
	}
	c := NewClient(3, Options{Vars: testVars, RandomSeed: 1}, rand.New(rand.NewPCG(1, 2)))
	v, err := c.ev.eval(e)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	if v.k == kNull {
		return "null", nil
	}
	return kindName(v.k) + " " + v.text(), nil
}

func TestEvaluate(t *testing.T) {
	for _, tc := range evalCases {
		got, err := evalForTest(t, tc.expr)
		if err != nil {
			t.Errorf("%s: parse error %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestExpressionSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"\\set x 1 +", "f.sql:1:11: syntax error: expected a value, found the end of the expression"},
		{"\\set x (1 + 2", "f.sql:1:14: syntax error: expected \")\", found the end of the expression"},
		{"\\set x 1 < 2 < 3", "f.sql:1:14: syntax error: \"<\" cannot follow another operator of its kind without parentheses"},
		{"\\set x case 1 when 1 then 2 end", "f.sql:1:13: syntax error: expected WHEN after CASE, found \"1\""},
		{"\\set x 9223372036854775808", "f.sql:1:8: bigint constant overflow (9223372036854775808)"},
		{"\\set x 1e400", "f.sql:1:8: double constant overflow (1e400)"},
		{"\\set x foo(1)", "f.sql:1:8: unknown function \"foo\" (valid: abs, debug, double, exp, greatest, hash, hash_fnv1a, hash_murmur2, int, least, ln, mod, permute, pi, pow, power, random, random_exponential, random_gaussian, random_zipfian, sqrt)"},
		{"\\set x random(1)", "f.sql:1:8: random() takes 2 arguments, got 1"},
		{"\\set x least()", "f.sql:1:8: least() takes at least 1 argument(s), got 0"},
		{"\\set x pi(1)", "f.sql:1:8: pi() takes 0 arguments, got 1"},
		{"\\set x hash(1, 2, 3)", "f.sql:1:8: hash() takes 1 to 2 arguments, got 3"},
		{"\\set x 1 is 2", "f.sql:1:13: syntax error: expected NULL, TRUE or FALSE after IS, found \"2\""},
		{"\\set x 1 $ 2", "f.sql:1:10: unexpected character '$'"},
		{"\\set x :", "f.sql:1:8: expected a variable name after \":\""},
		{"SELECT 1;\n\\set y \\\n  1 +\\\n  * 2", "f.sql:4:3: syntax error: expected a value, found \"*\""},
	} {
		_, err := Parse("f.sql", []byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestDebugWritesAsPgbench(t *testing.T) {
	var buf bytes.Buffer
	s, err := Parse("f.sql", []byte("\\set x debug(5432.1)\n\\set y debug(null)\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(0, Options{Debug: &buf}, nil)
	for i, cmd := range s.Commands {
		c.ev.script, c.ev.cmd = 0, i+1
		if _, err := c.ev.eval(cmd.expr); err != nil {
			t.Fatal(err)
		}
	}
	want := "debug(script=0,command=1): double 5432.1\ndebug(script=0,command=2): null\n"
	if buf.String() != want {
		t.Errorf("debug output %q, want %q", buf.String(), want)
	}
}

func TestRandomFunctionsStayInRange(t *testing.T) {
	c := NewClient(0, Options{}, rand.New(rand.NewPCG(7, 8)))
	for _, src := range []string{"random(-3, 3)", "random_exponential(-3, 3, 2.5)", "random_gaussian(-3, 3, 2.0)", "random_zipfian(-3, 3, 1.001)", "random_zipfian(-3, 3, 1000)", "random(9223372036854775800, 9223372036854775807)"} {
		e, err := parseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := int64(-3), int64(3)
		if strings.HasPrefix(src, "random(92") {
			lo, hi = 9223372036854775800, 9223372036854775807
		}
		seen := map[int64]int{}
		n := 20000
		if strings.Contains(src, "1.001") {
			n = 300 // slow by nature near 1, as pgbench's documentation warns
		}
		for i := 0; i < n; i++ {
			v, err := c.ev.eval(e)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if v.k != kInt || v.i < lo || v.i > hi {
				t.Fatalf("%s gave %v, outside [%d, %d]", src, v, lo, hi)
			}
			seen[v.i]++
		}
		if src == "random(-3, 3)" && len(seen) != 7 {
			t.Errorf("%s drew %d distinct values in 20000, want 7", src, len(seen))
		}
		if src == "random_zipfian(-3, 3, 1000)" && seen[-3] < 19990 {
			t.Errorf("%s drew the first value %d times in 20000, want nearly always", src, seen[-3])
		}
	}
}

func TestZipfianRatio(t *testing.T) {
	// The documentation: value 1 is drawn about (2/1)**2.5 = 5.66 times as often as 2.
	r := rand.New(rand.NewPCG(3, 4))
	counts := map[int64]int{}
	for i := 0; i < 200000; i++ {
		counts[zipfianRand(r, 1, 100, 2.5)]++
	}
	ratio := float64(counts[1]) / float64(counts[2])
	if ratio < 5.3 || ratio > 6.0 {
		t.Errorf("P(1)/P(2) = %.2f, want about 5.66", ratio)
	}
}

func TestPermuteIsAPermutation(t *testing.T) {
	for _, size := range []int64{1, 2, 3, 7, 64, 100, 1000, 4097} {
		for _, seed := range []uint64{0, 1, 5432, 1 << 63} {
			seen := make([]bool, size)
			identity := true
			for i := int64(0); i < size; i++ {
				p := permute(i, size, seed)
				if p < 0 || p >= size || seen[p] {
					t.Fatalf("permute(%d, %d, %d) = %d: outside [0, size) or repeated", i, size, seed, p)
				}
				seen[p] = true
				identity = identity && p == i
			}
			if size >= 64 && identity {
				t.Errorf("permute(·, %d, %d) is the identity", size, seed)
			}
		}
	}
	if permute(-1, 10, 3) != permute(9, 10, 3) || permute(13, 10, 3) != permute(3, 10, 3) {
		t.Error("permute does not take its input modulo size")
	}
	if permute(5, 9223372036854775807, 1) < 0 {
		t.Error("permute over the whole int64 range returned a negative value")
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(11, 12)) }
