package script_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	scriptscn "github.com/pgscale/pgscale/internal/scenarios/script"
)

// TestAutoFallsBackToGoroutinesOverTLS: over a TLS connection engine=auto runs goroutines and
// says why, and engine=mux is refused when the connections open, as before.
func TestAutoFallsBackToGoroutinesOverTLS(t *testing.T) {
	t.Parallel()
	target := startLocal(t)
	enableTLS(t, target)
	overTLS := func(env *scenarios.Env) {
		cc, err := pgx.ParseConfig(target.DSN())
		if err != nil {
			t.Fatal(err)
		}
		cc.TLSConfig, cc.Fallbacks = &tls.Config{InsecureSkipVerify: true}, nil // sslmode=require
		env.Load = cc
	}
	opts := scriptscn.Options{Files: []string{"testdata/counter.sql"}, Setup: []string{"testdata/counters-setup.sql"},
		Vars: map[string]string{"keys": "100"}}
	s, err := runScriptEnv(t, target, opts, map[string]string{"workers": "2"}, overTLS)
	if err != nil {
		t.Fatal(err)
	}
	if s.Engine != "goroutines" || !strings.Contains(s.EngineWhy, "TLS") || s.Ops == 0 || len(s.Errors) != 0 {
		t.Fatalf("engine %q (%q), %d transactions, errors %v: want goroutines because of TLS, and transactions",
			s.Engine, s.EngineWhy, s.Ops, s.Errors)
	}
	opts.Setup = nil
	_, err = runScriptEnv(t, target, opts, map[string]string{"workers": "2", "engine": "mux"}, overTLS)
	if err == nil || !strings.Contains(err.Error(), "sslmode=disable") {
		t.Fatalf("engine=mux over TLS: err %v, want the refusal naming sslmode=disable", err)
	}
}

// enableTLS turns ssl on in target with a self-signed certificate.
func enableTLS(t *testing.T, target harness.Target) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pgscale-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	crt, kf := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{crt, "CERTIFICATE", der}, {kf, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 { // the server runs as postgres: the files must be its own
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, crt, kf} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(context.Background(), target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"ALTER SYSTEM SET ssl_cert_file = '" + crt + "'", "ALTER SYSTEM SET ssl_key_file = '" + kf + "'",
		"ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var on string
		if err := conn.QueryRow(context.Background(), "SHOW ssl").Scan(&on); err != nil {
			t.Fatal(err)
		}
		if on == "on" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("ssl is still off 10 s after pg_reload_conf (see the server's log)")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
