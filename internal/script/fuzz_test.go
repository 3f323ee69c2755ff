package script

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// FuzzParse parses arbitrary scripts: it must never panic, and every error must be a
// *SyntaxError positioned inside the input.
func FuzzParse(f *testing.F) {
	for _, name := range BuiltinNames() {
		f.Add([]byte(builtins[name]))
	}
	f.Add([]byte("SELECT 1 \\; SELECT 2 AS two \\gset p_\n\\if :two = 2\n\\sleep 1 us\n\\elif true\n\\else\n\\endif\n"))
	f.Add([]byte("\\startpipeline\nSELECT $$;$$, E'\\';', \"a;\" /* ; */;\n\\syncpipeline\n\\endpipeline\n"))
	f.Add([]byte("\\set x CASE WHEN :a IS NOT NULL THEN permute(:a, 10) ELSE -9223372036854775808 END\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.sql", src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Line < 1 || se.Col < 1 || se.Line > bytes.Count(src, []byte("\n"))+1 {
				t.Fatalf("error %v is positioned outside the input", err)
			}
			return
		}
		for _, c := range s.Commands {
			if c.Line < 1 || c.Meta == "" && (c.SQL == "" || len(c.parts) == 0) {
				t.Fatalf("bad command %+v", c)
			}
		}
	})
}

// FuzzEval parses and evaluates arbitrary expressions: it must never panic, and evaluating twice
// from the same random state must give the same result.
func FuzzEval(f *testing.F) {
	for _, tc := range evalCases {
		f.Add(tc.expr)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := parseExpr(src)
		if err != nil {
			var se *exprSyntaxError
			if !errors.As(err, &se) || se.pos < 0 || se.pos > len(src) {
				t.Fatalf("error %v is not positioned in the input", err)
			}
			return
		}
		results := [2]string{}
		for i := range results {
			c := NewClient(3, Options{Vars: testVars, Debug: io.Discard}, rand.New(rand.NewPCG(5, 6)))
			v, err := c.ev.eval(e)
			if err != nil {
				var ee *evalError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v is not an evaluation error", err)
				}
				results[i] = "error: " + err.Error()
				continue
			}
			results[i] = kindName(v.k) + " " + v.text()
		}
		if results[0] != results[1] {
			t.Fatalf("%q evaluated to %q then %q", src, results[0], results[1])
		}
	})
}
