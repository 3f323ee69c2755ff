package conninfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

var syntaxMessage = regexp.MustCompile(`^dsn: [a-zA-Z0-9 "=@%()\[\]-]+ at byte [0-9]+$`)

// FuzzParse: whatever the input, Parse never panics; a syntax error holds nothing of the input;
// a parsed DSN never shows its password (String, Format, JSON, Arg) and connects as pgx would
// with the original string.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"postgres://app:hunter2@db.example.com:5432/app?sslmode=disable",
		"host=db user=app password='hunter 2' dbname=app",
		`host=x password=\ 000000 dbname=y`,
		`postgres://\":0000@`,
		"postgres://app:p@ss@h/db",
		"postgres://u:p%zz@h",
		"host=h password='unterminated",
		"postgres://[::1]:5432,h2/db?password=x&ssl=true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				if !syntaxMessage.MatchString(err.Error()) || se.Pos < 0 || se.Pos > len(s) {
					t.Fatalf("Parse(%q): %q is not a kind and a position", s, err)
				}
				if _, pgxErr := pgx.ParseConfig(s); pgxErr == nil && !strings.Contains(se.Kind, `second "@"`) {
					t.Fatalf("Parse(%q) = %v, but pgx reads it", s, err)
				}
				return
			}
			if settings, _, perr := parseSettings(s); perr == nil {
				for _, st := range settings {
					if secretKeys[st.key] && len(st.value) >= 3 && strings.Contains(err.Error(), st.value) {
						t.Fatalf("Parse(%q): %q shows the %s", s, err, st.key)
					}
				}
			}
			return
		}
		if err := samePgx(s, d); err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		checkHidden(t, d)
		back, err := Parse(d.String())
		if err != nil && !d.isURL {
			t.Fatalf("Parse(String()) of %q: %v", s, err)
		}
		if err == nil && nonEmpty(back).Arg() != nonEmpty(d).Arg() {
			t.Fatalf("Parse(%q).String() reads back as %q, want %q", s, back.Arg(), d.Arg())
		}
	})
}

// checkHidden fails t when any way of showing d depends on its secrets: shown with other
// secrets, d must look the same.
func checkHidden(t *testing.T, d DSN) {
	t.Helper()
	other := DSN{isURL: d.isURL, settings: append([]setting(nil), d.settings...)}
	changed := false
	for i, st := range other.settings {
		if secretKeys[st.key] && st.value != "" {
			other.settings[i].value = "0"
			changed = true
		}
	}
	if !changed {
		return
	}
	if a, b := shown(d), shown(other); a != b {
		t.Fatalf("a DSN shows its secrets:\n%q\nwith other secrets:\n%q", a, b)
	}
}

// shown is every way of printing d, joined.
func shown(d DSN) string {
	js, _ := json.Marshal(d)
	return strings.Join([]string{d.String(), d.Arg(), string(js), fmt.Sprintf("%v|%+v|%#v|%s|%q", d, d, d, d, d)}, "\n")
}

// nonEmpty is d without its empty settings (a URL shows an empty host as no host).
func nonEmpty(d DSN) DSN {
	for _, st := range d.settings {
		if st.value == "" {
			d = d.With(st.key, "")
		}
	}
	return d
}
