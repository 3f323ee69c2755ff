package conninfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Mask stands in for a password wherever a DSN is shown.
const Mask = "xxxxx"

// isSettingName reports whether name can be a libpq keyword or a PostgreSQL setting: ASCII
// letters, digits, '_', '$' and '.', and bytes of non-ASCII characters (PostgreSQL's
// valid_variable_name, plus the '.' of custom settings).
func isSettingName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '.' || c >= 0x80
		if !ok {
			return false
		}
	}
	return true
}

// secretKeys are the settings a DSN never shows.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// DSN is a parsed connection string. Its zero value is the empty DSN (libpq's defaults and the
// PG* environment). A DSN is immutable; With returns a changed copy.
type DSN struct {
	settings []setting
	isURL    bool
}

// Parse reads s (URL or key=value form) and checks that pgx accepts it, without connecting. Its
// errors never hold any of s: a *SyntaxError gives the kind of fault and its byte position.
func Parse(s string) (DSN, error) {
	settings, isURL, err := parseSettings(s)
	if err != nil {
		return DSN{}, err
	}
	d := DSN{settings: settings, isURL: isURL}
	for _, st := range settings {
		// libpq's keywords and PostgreSQL's settings are letters, digits, '_', '$' and '.' (and,
		// in custom settings, non-ASCII letters). Any other name ("postgres://", a URL's
		// "a%3Db") is no setting, and written back as key=value it could read as something
		// else (a URL, another key).
		if !isSettingName(st.key) {
			if name := strconv.Quote(st.key); d.Scrub(name) == name {
				return DSN{}, fmt.Errorf("dsn: %s is not a setting's name: a name is letters, digits, \"_\", \"$\" and \".\"", name)
			}
			return DSN{}, errors.New("dsn: a setting's name holds characters no name has: a name is letters, digits, \"_\", \"$\" and \".\"")
		}
	}
	if _, err := d.Config(); err != nil {
		return DSN{}, err
	}
	return d, nil
}

// IsZero reports whether d has no settings at all.
func (d DSN) IsZero() bool { return len(d.settings) == 0 }

// Get is the value of a setting ("" when it is not set). Get("password") is the password.
func (d DSN) Get(key string) string {
	key = canonicalKey(key)
	for _, s := range d.settings {
		if s.key == key {
			return s.value
		}
	}
	return ""
}

// With is d with key set to value (replacing an earlier value), or without key when value is "".
func (d DSN) With(key, value string) DSN {
	key = canonicalKey(key)
	out := DSN{isURL: d.isURL}
	for _, s := range d.settings {
		if s.key != key {
			out.settings = append(out.settings, s)
		}
	}
	if value != "" {
		out.settings = append(out.settings, setting{key, value})
	}
	return out
}

// Config is what pgx connects with (the PG* environment fills what d leaves out). Its errors are
// pgx's reasons without the connection string, and never hold a secret of d.
func (d DSN) Config() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(d.keywordValue(false))
	if err != nil {
		return nil, d.configError(err)
	}
	return cfg, nil
}

// configError is pgx's reason for refusing d, without the connection string pgx quotes, and
// without any secret of d (or, when the reason would hold one, without the reason).
func (d DSN) configError(err error) error {
	msg := err.Error()
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		// "cannot parse `<the connection string>`: reason (cause)": keep the reason alone.
		msg = pce.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		} else {
			msg = "pgx refuses a setting"
		}
	}
	for _, s := range d.settings {
		if secretKeys[s.key] && s.value != "" && strings.Contains(msg, s.value) {
			return errors.New("dsn: pgx refuses a setting (its reason would show a password)")
		}
	}
	return fmt.Errorf("dsn: %s", msg)
}

// Scrub is text with every occurrence of d's secrets masked, for the output of a program that
// was given them.
func (d DSN) Scrub(text string) string {
	for _, s := range d.settings {
		if secretKeys[s.key] && s.value != "" {
			text = strings.ReplaceAll(text, s.value, Mask)
		}
	}
	return text
}

// Secret is d in key=value form with its secrets, for handing to pgx within this process (a
// target's DSN). Never show it, log it, or put it on a command line: Arg and Env are for children.
func (d DSN) Secret() string { return d.keywordValue(false) }

// String is d with its secrets masked, in the form it was given (URL or key=value).
func (d DSN) String() string {
	if d.isURL {
		if u := d.url(); d.readsBackFrom(u) {
			return u
		}
		// A host the URL form cannot say again (a comma inside brackets, say): key=value does.
	}
	return d.keywordValue(true)
}

// readsBackFrom tells whether s parses to d's settings, secrets and empty values aside: whether
// s shows d faithfully.
func (d DSN) readsBackFrom(s string) bool {
	settings, _, err := parseSettings(s)
	if err != nil {
		return false
	}
	shown := func(settings []setting) map[string]string {
		m := map[string]string{}
		for _, st := range settings {
			if !secretKeys[st.key] && st.value != "" {
				m[st.key] = st.value
			} else {
				delete(m, st.key)
			}
		}
		return m
	}
	return maps.Equal(shown(settings), shown(d.settings))
}

// Format prints d masked whatever the verb: %v %+v %#v %s %q.
func (d DSN) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(d.String()))
	default:
		fmt.Fprint(f, d.String())
	}
}

// GoString is String: %#v never shows the fields.
func (d DSN) GoString() string { return d.String() }

// MarshalJSON writes d masked, as a JSON string.
func (d DSN) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalText writes d masked (YAML and other encoders).
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// keywordValue is d as key='value' pairs, with its secrets masked or not.
func (d DSN) keywordValue(masked bool) string {
	parts := make([]string, 0, len(d.settings))
	for _, s := range d.settings {
		v := s.value
		if masked && secretKeys[s.key] {
			v = Mask
		}
		parts = append(parts, s.key+"="+quote(v))
	}
	return strings.Join(parts, " ")
}

// quote writes a key=value value so that libpq and pgx read it back as v.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// url is d as a postgres:// URL with its secrets masked.
func (d DSN) url() string {
	var b strings.Builder
	b.WriteString("postgres://")
	user, hasPassword := d.Get("user"), d.Get("password") != ""
	if user != "" || hasPassword {
		b.WriteString(escape(user))
		if hasPassword {
			b.WriteString(":" + Mask)
		}
		b.WriteByte('@')
	}
	hosts := strings.Split(d.Get("host"), ",")
	ports := strings.Split(d.Get("port"), ",")
	for i, h := range hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.Contains(h, ":") {
			b.WriteString("[" + h + "]")
		} else {
			b.WriteString(escape(h))
		}
		if i < len(ports) && ports[i] != "" {
			b.WriteString(":" + escape(ports[i]))
		}
	}
	if db := d.Get("dbname"); db != "" {
		b.WriteString("/" + escape(db))
	}
	sep := "?"
	for _, s := range d.settings {
		switch s.key {
		case "user", "password", "host", "port", "dbname":
			continue
		}
		v := s.value
		if secretKeys[s.key] {
			v = Mask
		}
		b.WriteString(sep + escape(s.key) + "=" + escape(v))
		sep = "&"
	}
	return b.String()
}

// escape percent-encodes every byte of v but letters, digits and -._~.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
