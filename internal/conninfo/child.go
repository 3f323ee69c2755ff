package conninfo

import "strings"

// libpqKeywords are the connection keywords libpq knows (PostgreSQL 15 to 17). Any other key of
// a DSN is a server setting for pgx (search_path, say), which libpq refuses as a keyword.
var libpqKeywords = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "passfile": true,
	"channel_binding": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "replication": true, "gssencmode": true, "sslmode": true,
	"requiressl": true, "sslcompression": true, "sslcert": true, "sslkey": true, "sslcertmode": true,
	"sslrootcert": true, "sslcrl": true, "sslcrldir": true, "sslsni": true, "requirepeer": true,
	"ssl_min_protocol_version": true, "ssl_max_protocol_version": true, "krbsrvname": true,
	"gsslib": true, "gssdelegation": true, "service": true, "target_session_attrs": true,
	"load_balance_hosts": true, "require_auth": true,
}

// Arg is d for another program's command line (pgbench, psql): its libpq keywords as key=value
// pairs, without its secrets, which go by its environment (Env). The command line of a process
// can be read by every user of the machine.
func (d DSN) Arg() string {
	parts := make([]string, 0, len(d.settings))
	for _, s := range d.settings {
		if libpqKeywords[s.key] && !secretKeys[s.key] {
			parts = append(parts, s.key+"="+quote(s.value))
		}
	}
	return strings.Join(parts, " ")
}

// Env is what a program given Arg needs in its environment to connect as d does: PGPASSWORD when
// d has a password. (PGSSLPASSWORD does not exist: a DSN with sslpassword can't be handed on.)
func (d DSN) Env() []string {
	if p := d.Get("password"); p != "" {
		return []string{"PGPASSWORD=" + p}
	}
	return nil
}
