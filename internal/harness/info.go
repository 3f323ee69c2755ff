package harness

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// noisySettings are non-default settings every server has for reasons of its own (paths, ports,
// locale); a result leaves them out so the settings that shape performance stand out.
var noisySettings = map[string]bool{
	"application_name": true, "client_encoding": true, "config_file": true, "data_directory": true,
	"DateStyle": true, "default_text_search_config": true, "hba_file": true, "ident_file": true,
	"lc_messages": true, "lc_monetary": true, "lc_numeric": true, "lc_time": true,
	"listen_addresses": true, "log_timezone": true, "port": true, "TimeZone": true,
	"transaction_deferrable": true, "transaction_isolation": true, "transaction_read_only": true,
	"unix_socket_directories": true, "search_path": true, "external_pid_file": true,
	"log_filename": true, "log_directory": true, "cluster_name": true, "ssl_cert_file": true,
	"ssl_key_file": true, "lc_collate": true, "lc_ctype": true,
}

// ReadServerInfo connects to dsn and reads the server version, max_connections and the settings
// that differ from their defaults.
func ReadServerInfo(ctx context.Context, dsn string) (ServerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return ServerInfo{}, fmt.Errorf("server info: %w", err)
	}
	defer conn.Close(context.Background())
	var info ServerInfo
	var num, maxConns string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num'),
		current_setting('max_connections')`).Scan(&info.Version, &num, &maxConns)
	if err != nil {
		return ServerInfo{}, fmt.Errorf("server info: %w", err)
	}
	info.VersionNum, _ = strconv.Atoi(num)
	info.MaxConnections, _ = strconv.Atoi(maxConns)
	if m := regexp.MustCompile(`^\d+(\.\d+)?`).FindString(info.Version); m != "" {
		info.Version = m // "15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
	}
	rows, err := conn.Query(ctx, `SELECT name, setting || coalesce(unit, '') FROM pg_settings
		WHERE source NOT IN ('default', 'override', 'client', 'session') ORDER BY name`)
	if err != nil {
		return ServerInfo{}, fmt.Errorf("server settings: %w", err)
	}
	info.Settings = map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return ServerInfo{}, fmt.Errorf("server settings: %w", err)
		}
		if !noisySettings[name] {
			info.Settings[name] = value
		}
	}
	if err := rows.Err(); err != nil {
		return ServerInfo{}, fmt.Errorf("server settings: %w", err)
	}
	// fsync and synchronous_commit decide what a write benchmark means: always record them.
	for _, name := range []string{"fsync", "synchronous_commit", "shared_buffers", "max_connections"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err == nil {
			info.Settings[name] = v
		}
	}
	return info, nil
}

// LibpqEnv is the environment for a libpq program (pgbench, psql) that is handed cfg's connection
// string without its password (WithoutPassword or conninfo.DSN.Arg), so that it connects where and as cfg does:
//   - the inherited environment without its PG* variables (a PGSERVICE or PGHOSTADDR there could
//     send it elsewhere than pgscale's load; PGSCALE_DSN may hold a password), except PGSSL*, which
//     pgx read too and which set TLS alike for both;
//   - cfg's host, port, user and database as PGHOST, PGPORT, PGUSER and PGDATABASE, for those that
//     came from the environment rather than the connection string (the string wins over them);
//   - PGAPPNAME, the password as PGPASSWORD (never on a command line, which other users can read),
//     and cfg's search path as PGOPTIONS.
func LibpqEnv(inherited []string, cfg *pgx.ConnConfig, appName string) []string {
	var env []string
	for _, kv := range inherited {
		if !strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "PGSSL") {
			env = append(env, kv)
		}
	}
	if cfg.Host != "" {
		env = append(env, "PGHOST="+cfg.Host)
	}
	if cfg.Port != 0 {
		env = append(env, "PGPORT="+strconv.Itoa(int(cfg.Port)))
	}
	if cfg.User != "" {
		env = append(env, "PGUSER="+cfg.User)
	}
	if cfg.Database != "" {
		env = append(env, "PGDATABASE="+cfg.Database)
	}
	env = append(env, "PGAPPNAME="+appName)
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	if sp := cfg.RuntimeParams["search_path"]; sp != "" {
		env = append(env, "PGOPTIONS=-c search_path="+sp)
	}
	return env
}

// SQLState is the SQLSTATE of a PostgreSQL error in err's chain ("" for none).
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
