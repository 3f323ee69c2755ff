package conninfo

import (
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"
)

// samePgx checks that d holds what pgx reads from s: host, port, user, password, database,
// fallbacks and server settings.
func samePgx(s string, d DSN) error {
	want, err := pgx.ParseConfig(s)
	if err != nil {
		return nil // pgx refuses s: nothing to compare with
	}
	got, err := d.Config()
	if err != nil {
		return fmt.Errorf("pgx reads the string but not the DSN: %v", err)
	}
	// pgx keeps a URL's user or database that decodes to "" (postgres:// @); libpq, and a DSN,
	// take an empty value for none. Both are nonsense to connect with; compare the rest.
	// pgx also skips a keyword/value `user=` with no value, so that an earlier user stands
	// ("user=a user=" is a to pgx); libpq, whose programs pgscale runs, takes the empty value for
	// none and connects as the OS user, as the DSN does.
	if want.User == "" || setEmpty(d, "user") {
		want.User = got.User
	}
	if want.Database == "" {
		want.Database = got.Database
	}
	if got.Host != want.Host || got.Port != want.Port || got.User != want.User || got.Password != want.Password ||
		got.Database != want.Database || len(got.Fallbacks) != len(want.Fallbacks) {
		return fmt.Errorf("DSN connects as %s@%s:%d/%s (%d fallbacks), pgx as %s@%s:%d/%s (%d fallbacks)",
			got.User, got.Host, got.Port, got.Database, len(got.Fallbacks), want.User, want.Host, want.Port, want.Database, len(want.Fallbacks))
	}
	if got.Password != want.Password {
		return fmt.Errorf("DSN and pgx read different passwords")
	}
	if !maps.Equal(got.RuntimeParams, want.RuntimeParams) {
		return fmt.Errorf("server settings %v, pgx %v", got.RuntimeParams, want.RuntimeParams)
	}
	return nil
}

// setEmpty reports whether d sets key to "".
func setEmpty(d DSN, key string) bool {
	for _, st := range d.settings {
		if st.key == key {
			return st.value == ""
		}
	}
	return false
}
