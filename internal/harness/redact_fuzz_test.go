package harness

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgscale/pgscale/internal/conninfo"
)

// FuzzRedactDSN: for any string pgx reads a password from, neither RedactDSN nor WithoutPassword
// shows that password, unless it is also in the string outside the password (a user name equal
// to it, say, or the end of one value and the space after it).
func FuzzRedactDSN(f *testing.F) {
	for _, s := range []string{
		"postgres://app:hunter2@db.example.com:5432/app",
		"host=db user=app password='hunter 2' dbname=app",
		`host=x password=\ 000000 dbname=y`,
		`postgres://\":0000@`,
		`host=127.0.0.1 user=app password=Pa\ ss@w0rd dbname=app`,
		"postgres://app:Sup3r|Secret@127.0.0.1:5432/app",
		"postgres://app:p@ss@127.0.0.1/app",
		"postgres://app@h/app?password=Sup3rSecret&sslmode=disable",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := pgx.ParseConfig(s)
		redacted, without := RedactDSN(s), WithoutPassword(s)
		if err != nil || len(cfg.Password) < 3 || strings.Count(s, cfg.Password) > 1 || strings.Contains(conninfo.Mask, cfg.Password) {
			return
		}
		if d, err := conninfo.Parse(s); err == nil {
			public := d.With("password", "").With("sslpassword", "")
			if strings.Contains(public.String()+"\x00"+public.Arg(), cfg.Password) {
				return // the password is also a user, host or other value
			}
			// The same settings with another password: what shows the password there comes from
			// the other values and the separators between them ("host=10.00 password=…" holds
			// the password "00 "), not from the password.
			other := strings.Repeat("Z", len(cfg.Password))
			if other == cfg.Password {
				other = strings.Repeat("Y", len(cfg.Password))
			}
			if swapped := d.With("password", other); strings.Contains(swapped.String()+"\x00"+swapped.Arg(), cfg.Password) {
				return
			}
		}
		for name, out := range map[string]string{"RedactDSN": redacted, "WithoutPassword": without} {
			if strings.Contains(strings.ReplaceAll(out, conninfo.Mask, "\x00"), cfg.Password) {
				t.Fatalf("%s(%q) = %q shows the password %q", name, s, out, cfg.Password)
			}
		}
	})
}
