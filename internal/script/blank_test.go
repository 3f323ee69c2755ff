package script

import (
	"errors"
	"testing"
)

func TestBlankSQL(t *testing.T) {
	sql := "SELECT 'a;b', E'c\\'d', \"e;f\" -- g;\n/* h /* i */ ; */ FROM t; DO $x$ j; $x$; SELECT $1;"
	blanked, bodies, err := BlankSQL("f.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT      , E      ,            \n                  FROM t; DO           ; SELECT $1;"
	if blanked != want {
		t.Errorf("blanked\n%q, want\n%q", blanked, want)
	}
	if len(bodies) != 1 || sql[bodies[0][0]:bodies[0][1]] != " j; " {
		t.Errorf("bodies %v, want the one of $x$", bodies)
	}
	var syntax *SyntaxError
	if _, _, err := BlankSQL("f.sql", "SELECT 1;\nSELECT 'x"); !errors.As(err, &syntax) || syntax.Line != 2 {
		t.Errorf("unterminated string: %v, want a SyntaxError at line 2", err)
	}
}
