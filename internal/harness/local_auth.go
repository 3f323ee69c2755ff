package harness

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// A local server trusts no one on its TCP port: its superuser gets a random password for the
// run, checked with scram-sha-256 (pg_hba.conf's host lines), and PgBouncer checks the same one.
// Only the Unix socket trusts, and it lies in the run directory, which is 0700 and owned by the
// server's account: pgscale connects through it once, to set the password.

// localHBA is the pg_hba.conf of every local run.
const localHBA = `# written by pgscale for one run
# The socket is in a directory only the server's account (and root) can enter.
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
`

// scramIterations is the PBKDF2 iteration count of the run's SCRAM secret; every connection's
// client computes that many rounds. PostgreSQL's default, 4096, is there to slow down guessing a
// human password from a stolen secret; the run's password is 192 random bits, which no one guesses
// with or without it. And 4096 rounds cost libpq about 5 ms of CPU per connection on our 2-core
// machine (pgbench -C: 10 connections/s instead of 36-48 with trust), which would swamp what
// connect-storm and calibrate's connect mode measure: the server's own connection cost.
const scramIterations = 16

// newLocalPassword is a random password for one run.
func newLocalPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("local target: password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// scramSecret is the SCRAM-SHA-256 secret PostgreSQL (and PgBouncer's auth_file) keeps for a
// password (RFC 5802, RFC 7677), so that the password itself never reaches the server or a file.
func scramSecret(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("local target: password: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("local target: password: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}

// writeHBA replaces the data directory's pg_hba.conf (initdb's or the template's) with localHBA.
func (t *LocalTarget) writeHBA() error {
	path := filepath.Join(t.dataDir, "pg_hba.conf")
	if err := os.WriteFile(path, []byte(localHBA), 0o600); err != nil {
		return fmt.Errorf("local target: pg_hba.conf: %w", err)
	}
	if err := t.acct.chown(path); err != nil {
		return fmt.Errorf("local target: pg_hba.conf: %w", err)
	}
	return nil
}

// socketConfig connects through the server's Unix socket as its superuser.
func (t *LocalTarget) socketConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable dbname=postgres")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User = t.socketDir(), uint16(t.port), localSuperuser
	return cfg, nil
}

// pingSocket connects once through the socket and runs a query.
func (t *LocalTarget) pingSocket(ctx context.Context) error {
	cfg, err := t.socketConfig()
	if err != nil {
		return err
	}
	return localPingConfig(ctx, cfg)
}

// setPassword gives the superuser the run's password (as its SCRAM secret), through the socket.
func (t *LocalTarget) setPassword(ctx context.Context) error {
	cfg, err := t.socketConfig()
	if err != nil {
		return fmt.Errorf("local target: set the password: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("local target: set the password: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The secret is a literal: ALTER ROLE takes no parameters.
	if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{localSuperuser}.Sanitize()+" PASSWORD '"+t.secret+"'"); err != nil {
		return fmt.Errorf("local target: set the password: %w", err)
	}
	return nil
}

// localURL is a URL to the superuser on 127.0.0.1 at port, with password.
func localURL(password string, port int) string {
	return "postgres://" + localSuperuser + ":" + password + "@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
}
