// Package conninfo parses a PostgreSQL connection string (URL or key=value form) once, into a
// DSN that never shows its password: String, Format (every verb), GoString, Error messages and
// MarshalJSON all print it masked. The password reaches a connection only through Config, and
// another program only through its environment (Env), never its command line (Arg).
//
// The parser follows libpq's rules, as pgx does: key=value pairs with single quotes and
// backslash escapes; URLs postgres[ql]://user:password@host:port,host:port/dbname?key=value with
// percent-encoding. A malformed string is reported by the kind of fault and its byte position,
// never by echoing the input.
package conninfo

import (
	"fmt"
	"strings"
)

// SyntaxError is a malformed connection string: what is wrong and where (a byte offset from 0).
// It never holds any of the input.
type SyntaxError struct {
	Pos  int
	Kind string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("dsn: %s at byte %d", e.Kind, e.Pos) }

type setting struct{ key, value string }

// parseSettings turns s into its settings, in order, a later key replacing an earlier one.
func parseSettings(s string) (settings []setting, isURL bool, err error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, false, &SyntaxError{i, "NUL byte"}
	}
	for _, prefix := range []string{"postgresql://", "postgres://"} {
		if strings.HasPrefix(s, prefix) {
			settings, err = parseURL(s, len(prefix))
			return settings, true, err
		}
	}
	settings, err = parseKeywordValue(s)
	return settings, false, err
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseKeywordValue reads key=value pairs as libpq does: spaces around '=' allowed, a value
// either quoted with ' (backslash escapes ' and \) or running to the next space (backslash
// escapes any byte, a space included).
func parseKeywordValue(s string) ([]setting, error) {
	var out []setting
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] != '=' {
			return nil, &SyntaxError{i, `missing "=" after a keyword`}
		}
		if key == "" {
			return nil, &SyntaxError{start, "empty keyword"}
		}
		i++ // '='
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var b strings.Builder
		if i < len(s) && s[i] == '\'' {
			quote := i
			i++
			for {
				if i >= len(s) {
					return nil, &SyntaxError{quote, "unterminated quote"}
				}
				c := s[i]
				if c == '\'' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i >= len(s) {
						return nil, &SyntaxError{quote, "unterminated quote"}
					}
					c = s[i]
				}
				b.WriteByte(c)
				i++
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				c := s[i]
				if c == '\\' {
					i++
					if i == len(s) {
						break // a trailing backslash ends the value, as in libpq
					}
					c = s[i]
				}
				b.WriteByte(c)
				i++
			}
		}
		out = set(out, canonicalKey(key), b.String())
	}
}

// parseURL reads postgres[ql]://[user[:password]@][host[:port][,...]][/dbname][?key=value&...]
// from byte p on, with libpq's rules: the first '@' before any '/' ends the user part, values
// are percent-decoded, spaces only around a value.
func parseURL(s string, p int) ([]setting, error) {
	var out []setting
	rest := s[p:]
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		user, password, hasPassword := strings.Cut(rest[:i], ":")
		if user != "" {
			v, err := decode(user, p)
			if err != nil {
				return nil, err
			}
			out = set(out, "user", v)
		}
		if hasPassword && password != "" {
			v, err := decode(password, p+len(user)+1)
			if err != nil {
				return nil, err
			}
			out = set(out, "password", v)
		}
		p += i + 1
	}
	// A second '@' is a password's own '@' written raw: libpq would take what follows it for the
	// host name, and show it in its errors. Refuse it, by position.
	if i := strings.IndexByte(s[p:indexAnyFrom(s, p, "/?")], '@'); i >= 0 {
		return nil, &SyntaxError{p + i, `second "@" (write an "@" in a user name or password as %40)`}
	}
	var hosts, ports gathered
	for {
		if p < len(s) && s[p] == '[' {
			end := strings.IndexByte(s[p:], ']')
			if end < 0 {
				return nil, &SyntaxError{p, `unterminated "[" of an IPv6 address`}
			}
			if end == 1 {
				return nil, &SyntaxError{p, "empty IPv6 address"}
			}
			hosts.add(s, p+1, p+end)
			p += end + 1
			if p < len(s) && !strings.ContainsRune(":/?,", rune(s[p])) {
				return nil, &SyntaxError{p, `unexpected character after "]"`}
			}
		} else {
			end := indexAnyFrom(s, p, ":/?,")
			hosts.add(s, p, end)
			p = end
		}
		if p < len(s) && s[p] == ':' {
			p++
			end := indexAnyFrom(s, p, "/?,")
			ports.add(s, p, end)
			p = end
		}
		if p >= len(s) || s[p] != ',' {
			break
		}
		p++
		hosts.add(s, p-1, p)
		ports.add(s, p-1, p)
	}
	if hosts.len() > 0 {
		v, err := hosts.decode()
		if err != nil {
			return nil, err
		}
		out = set(out, "host", v)
	}
	if ports.len() > 0 {
		v, err := ports.decode()
		if err != nil {
			return nil, err
		}
		out = set(out, "port", v)
	}
	if p < len(s) && s[p] == '/' {
		p++
		end := indexAnyFrom(s, p, "?")
		if end > p {
			v, err := decode(s[p:end], p)
			if err != nil {
				return nil, err
			}
			out = set(out, "dbname", v)
		}
		p = end
	}
	if p < len(s) && s[p] == '?' {
		p++
		for p < len(s) {
			end := indexAnyFrom(s, p, "&")
			pair := s[p:end]
			rawKey, rawValue, found := strings.Cut(pair, "=")
			if !found {
				return nil, &SyntaxError{p, `missing "=" in a query parameter`}
			}
			if strings.IndexByte(rawValue, '=') >= 0 {
				return nil, &SyntaxError{p, `second "=" in a query parameter`}
			}
			key, err := decode(rawKey, p)
			if err != nil {
				return nil, err
			}
			value, err := decode(rawValue, p+len(rawKey)+1)
			if err != nil {
				return nil, err
			}
			key = canonicalKey(key)
			if key == "ssl" && value == "true" {
				key, value = "sslmode", "require"
			}
			out = set(out, key, value)
			p = end
			if p < len(s) {
				p++ // '&'
			}
		}
	}
	return out, nil
}

// gathered is a value written in pieces over a URL (its hosts, or their ports), with where
// each of its bytes stands in the URL, so that an error names the right byte.
type gathered struct {
	text strings.Builder
	at   []int
}

// add appends s[from:to].
func (g *gathered) add(s string, from, to int) {
	g.text.WriteString(s[from:to])
	for i := from; i < to; i++ {
		g.at = append(g.at, i)
	}
}

func (g *gathered) len() int { return g.text.Len() }

// decode percent-decodes the value, as decode does.
func (g *gathered) decode() (string, error) {
	return decodeAt(g.text.String(), func(i int) int {
		if i < len(g.at) {
			return g.at[i]
		}
		return g.at[len(g.at)-1] + 1
	})
}

func indexAnyFrom(s string, from int, chars string) int {
	if i := strings.IndexAny(s[from:], chars); i >= 0 {
		return from + i
	}
	return len(s)
}

// decode percent-decodes one URL component that starts at byte at of the input, as libpq does:
// %XX with two hex digits, %00 refused, spaces only before and after.
func decode(raw string, at int) (string, error) {
	return decodeAt(raw, func(i int) int { return at + i })
}

// decodeAt is decode for a value gathered from several places of the string: byte i of raw
// stands at byte pos(i) of the string, for the position of an error.
func decodeAt(raw string, pos func(int) int) (string, error) {
	var b strings.Builder
	i := 0
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	for i < len(raw) && raw[i] != ' ' {
		if raw[i] != '%' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		hi, ok1 := hexDigit(raw, i+1)
		lo, ok2 := hexDigit(raw, i+2)
		if !ok1 || !ok2 {
			return "", &SyntaxError{pos(i), "bad percent-encoding"}
		}
		if hi<<4|lo == 0 {
			return "", &SyntaxError{pos(i), "%00 in a value"}
		}
		b.WriteByte(hi<<4 | lo)
		i += 3
	}
	space := i
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	if i < len(raw) {
		return "", &SyntaxError{pos(space), "space inside a URL value (write it as %20)"}
	}
	return b.String(), nil
}

func hexDigit(s string, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// canonicalKey spells a keyword as libpq does (pgx also accepts "database" for "dbname").
func canonicalKey(k string) string {
	if k == "database" {
		return "dbname"
	}
	return k
}

// set puts key=value into settings, replacing an earlier value of key in its place.
func set(settings []setting, key, value string) []setting {
	for i := range settings {
		if settings[i].key == key {
			settings[i].value = value
			return settings
		}
	}
	return append(settings, setting{key, value})
}
