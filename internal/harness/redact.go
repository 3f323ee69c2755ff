package harness

import (
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgscale/pgscale/internal/conninfo"
)

// RedactDSN is text with the passwords of any connection string in it masked, for errors and
// logs. A text that is one whole DSN is parsed and shown by conninfo (so nothing of the password
// survives, whatever its form). Any other text, such as an error message quoting a DSN, is masked
// by pattern, erring towards masking too much: a key=value password with its quotes and
// escapes, and a URL's user info from its first ':' up to the last '@' on the line.
func RedactDSN(text string) string {
	if d, err := conninfo.Parse(text); err == nil && !d.IsZero() {
		return d.String()
	}
	return redactText(text)
}

// WithoutPassword is a DSN for another program's command line (conninfo.DSN.Arg): its libpq
// keywords without the password, which goes by PGPASSWORD (LibpqEnv). A DSN that does not parse
// gives "": the program then connects by LibpqEnv's PGHOST, PGPORT, PGUSER and PGDATABASE alone.
func WithoutPassword(dsn string) string {
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return ""
	}
	return d.Arg()
}

// ConnConfig parses a target's DSN for pgx through conninfo, so that its errors never quote the
// DSN (pgx's quote it, masking the password only where it recognizes one).
func ConnConfig(dsn string) (*pgx.ConnConfig, error) {
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return nil, err
	}
	return d.Config()
}

var (
	// kvSecret is password=value or sslpassword=value: a quoted value (unterminated included) or
	// an unquoted one with backslash escapes (an escaped space included).
	kvSecret = regexp.MustCompile(`(?is)(password\s*=\s*)('(?:[^'\\]|\\.)*(?:'|\\?$)|(?:\\.|\\$|[^\s\\])*)`)
	// querySecret is a URL's ?password=... or &sslpassword=... up to the next '&' or space.
	querySecret = regexp.MustCompile(`(?i)([?&][^&=\s]*password=)[^&\s]*`)
)

func redactText(text string) string {
	text = redactURLUserInfo(text)
	text = querySecret.ReplaceAllString(text, "${1}"+conninfo.Mask)
	return kvSecret.ReplaceAllString(text, "${1}"+conninfo.Mask)
}

// redactURLUserInfo masks, after each "postgres[ql]://user:", everything up to the last '@' of the line (a
// password may hold '@', '/' or, wrongly, spaces), or to the end of the word when no '@' follows.
func redactURLUserInfo(text string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		scheme := text[:i]
		b.WriteString(text[:i+3])
		text = text[i+3:]
		if !strings.HasSuffix(scheme, "postgres") && !strings.HasSuffix(scheme, "postgresql") {
			continue // another kind of URL: a docker endpoint, say
		}
		line := text
		if nl := strings.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		colon := strings.IndexByte(line, ':')
		at := strings.LastIndexByte(line, '@')
		word := strings.IndexAny(line, " \t")
		if word < 0 {
			word = len(line)
		}
		switch {
		case colon >= 0 && at > colon:
			b.WriteString(text[:colon+1] + conninfo.Mask)
			text = text[at:]
		case colon >= 0 && at < 0 && colon < word && strings.IndexAny(line[:colon], "/?") < 0:
			b.WriteString(text[:colon+1] + conninfo.Mask)
			text = text[word:]
		}
	}
}
