package conninfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const secret = "Sup3r-S3cret"

// TestNeverShown: every way of printing a DSN masks its password, whatever the form it came in.
func TestNeverShown(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"postgres://app:" + secret + "@db.example.com:5432/app?sslmode=disable",
		"postgresql://app@db.example.com/app?password=" + secret + "&application_name=x",
		"host=db.example.com user=app password=" + secret + " dbname=app",
		"host=db.example.com password='" + secret + " with spaces' dbname=app",
		`host=db.example.com password=Pa\ ` + secret + ` dbname=app`,
		"postgres://app:" + secret + "@h1:5432,h2:5433/app",
		"host=db sslpassword=" + secret,
	} {
		d, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		type holder struct {
			DSN DSN  `json:"dsn"`
			Ptr *DSN `json:"ptr"`
		}
		js, err := json.Marshal(holder{d, &d})
		if err != nil {
			t.Fatal(err)
		}
		shown := []string{d.String(), d.GoString(), d.Arg(), string(js), fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s %q %x", d, d, d, d, d, d),
			fmt.Sprintf("%v %+v %#v", holder{d, &d}, holder{d, &d}, []DSN{d}), fmt.Errorf("wrapped %w: %v", errors.New("x"), d).Error()}
		for _, out := range shown {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows the password: %s", s, out)
			}
		}
		if !strings.Contains(d.String(), Mask) {
			t.Errorf("String() of %q = %q: no mask where the password was", s, d.String())
		}
		if strings.Contains(s, " password=") || strings.Contains(s, ":"+secret) || strings.Contains(s, "?password") {
			if env := d.Env(); len(env) != 1 || !strings.HasPrefix(env[0], "PGPASSWORD=") || !strings.Contains(env[0], secret) {
				t.Errorf("Env() of %q = %q, want PGPASSWORD with the password", s, env)
			}
		}
		if p := d.Get("password"); p != "" && d.Scrub("pgbench: "+p+" failed") != "pgbench: "+Mask+" failed" {
			t.Errorf("Scrub of %q left the password", s)
		}
	}
}

// TestSameAsPgx: the settings pgscale holds are the ones pgx reads from the original string.
func TestSameAsPgx(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"postgres://app:p%40ss@db.example.com:6543/my%20db?sslmode=disable&search_path=s1",
		`host=db port=6543 user='ap p' password='a\'b\\c d' dbname=x connect_timeout=3`,
		`host = db  password = Pa\ ss`,
		"postgres://[::1]:5433/app",
		"postgres://u@h1:5432,h2:5433/app",
	} {
		d, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if err := samePgx(s, d); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestErrorsByPosition: a malformed string is reported by kind and byte position, never echoed.
func TestErrorsByPosition(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]string{
		"host=127.0.0.1 password='" + secret + " dbname=app":      "dsn: unterminated quote at byte 24",
		"host=127.0.0.1 " + secret:                                `dsn: missing "=" after a keyword at byte 27`,
		"postgres://app:" + secret + "%zz@127.0.0.1/app":          "dsn: bad percent-encoding at byte 27",
		"postgres://app@127.0.0.1/app?password=" + secret + "%zz": "dsn: bad percent-encoding at byte 50",
		"postgres://app:Sup3r " + secret + "@127.0.0.1/app":       "dsn: space inside a URL value (write it as %20) at byte 20",
		"postgres://app:Sup3r@" + secret + "@127.0.0.1/app":       `dsn: second "@" (write an "@" in a user name or password as %40) at byte 33`,
		"postgres://app:" + secret + "@127.0.0.1:" + secret:       "dsn: invalid port",
		"postgres://app:" + secret + "@127.0.0.1:notaport":        "dsn: invalid port",
	} {
		_, err := Parse(s)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", s, want)
			continue
		}
		if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), secret) {
			t.Errorf("Parse(%q) = %q, want %q and no password", s, err, want)
		}
	}
}

func TestArgDropsSecretsAndServerSettings(t *testing.T) {
	t.Parallel()
	d, err := Parse("postgres://app:" + secret + "@db:5432/app?sslmode=disable&connect_timeout=3&search_path=s1&application_name=a%20b")
	if err != nil {
		t.Fatal(err)
	}
	want := `user=app host=db port=5432 dbname=app sslmode=disable connect_timeout=3 application_name='a b'`
	if got := d.Arg(); got != want {
		t.Errorf("Arg() = %q, want %q", got, want)
	}
	if got := d.String(); got != "postgres://app:xxxxx@db:5432/app?sslmode=disable&connect_timeout=3&search_path=s1&application_name=a%20b" {
		t.Errorf("String() = %q", got)
	}
}

// TestSettingNames: a custom setting's name may hold '$' and non-ASCII letters, as PostgreSQL's
// do; a name with a space, '=', ':' or '/' is no setting and is refused, named unless it would
// show the password.
func TestSettingNames(t *testing.T) {
	for _, ok := range []string{"postgres://h/db?myapp.tenant$id=1", "host=h myapp.größe=1", "host=h application_name=x"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v, want it read", ok, err)
		}
	}
	for _, bad := range []string{"postgres://h/db?a%3Db=1", " postgres://=", "postgres://h/db?a%20=1"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "not a setting's name") {
			t.Errorf("Parse(%q): %v, want the name refused", bad, err)
		}
	}
	if _, err := Parse("postgres://u:hunter2@h/db?hunter2%3D=1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad name holding the password: %v, want it refused without showing it", err)
	}
}
