package harness

import (
	"bytes"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/usage"
)

// echoServer answers every byte it reads with the same byte, until the client half-closes; then
// it writes "bye" and closes. (A stand-in for the network's far end, not for PostgreSQL.)
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_, _ = c.Write([]byte("bye"))
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrips times n one-byte round trips over conn and returns their median.
func roundTrips(t *testing.T, conn net.Conn, n int) time.Duration {
	t.Helper()
	var ds []time.Duration
	b := []byte{0}
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func TestLatencyProxyAddsRoundTrip(t *testing.T) {
	t.Parallel()
	upstream := echoServer(t)
	// A round trip long enough that timer slack on a loaded machine (18 ms seen in CI) stays well
	// below it: a proxy that held each direction for the whole rtt would add 2 × rtt.
	const rtt = 100 * time.Millisecond
	proxy, err := NewLatencyProxy(upstream, rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	direct, err := net.Dial("tcp", upstream)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	delayed, err := net.Dial("tcp", proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer delayed.Close()
	// The proxy holds each direction for rtt/2: a round trip gains rtt; timers may fire late on a
	// busy machine, never early. A proxy holding each direction for rtt adds 2 × rtt every time;
	// a busy moment's slack (69 ms seen once, with four test binaries at a time) passes, so the
	// round trips are timed again once when only the upper bound fails.
	for attempt := 1; ; attempt++ {
		base := roundTrips(t, direct, 10)
		got := roundTrips(t, delayed, 10)
		added := got - base
		if added >= rtt && added <= rtt+rtt/2 {
			return
		}
		if added < rtt || attempt == 2 {
			t.Fatalf("median round trip %s through the proxy vs %s direct: added %s, want %s (+ up to half that of timer slack)",
				got, base, added, rtt)
		}
		t.Logf("attempt %d: added %s, over %s; timing the round trips again", attempt, added, rtt+rtt/2)
	}
}

func TestLatencyProxyPipelinesAndHalfCloses(t *testing.T) {
	t.Parallel()
	upstream := echoServer(t)
	const rtt = 40 * time.Millisecond
	proxy, err := NewLatencyProxy(upstream, rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	conn, err := net.Dial("tcp", proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 1 MiB sent in many writes comes back whole, after about one round trip, not one per chunk.
	payload := bytes.Repeat([]byte("pgscale!"), 128<<10)
	start := time.Now()
	go func() {
		for off := 0; off < len(payload); off += 4096 {
			_, _ = conn.Write(payload[off : off+4096])
		}
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if want := append(append([]byte{}, payload...), "bye"...); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want %d (the payload, then \"bye\" after the half-close)", len(got), len(want))
	}
	if took < rtt || took > 20*rtt {
		t.Errorf("1 MiB echoed in %s with %s of round trip: the chunks are not pipelined", took, rtt)
	}
}

func TestLatencyProxyCloseEndsConnections(t *testing.T) {
	t.Parallel()
	proxy, err := NewLatencyProxy(echoServer(t), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrips(t, conn, 1)
	done := make(chan struct{})
	go func() { proxy.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a connection open")
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the client's connection is still open after Close")
	}
	if _, err := net.DialTimeout("tcp", proxy.Addr(), time.Second); err == nil {
		t.Error("the proxy still accepts after Close")
	}
}

func TestDSNWithAddr(t *testing.T) {
	t.Parallel()
	cases := []string{
		"postgres://postgres:secret@172.17.0.2:5432/postgres?sslmode=disable",
		"postgresql://u@db.example.com/app?sslmode=disable&application_name=x",
		"host=10.0.0.5 port=5433 user=app dbname=app sslmode=disable",
		// A pinned dsn target's form; hostaddr would take libpq past the proxy, and pgx would send
		// it to the server as a setting.
		"host=db.example.com hostaddr=10.0.0.5 port=5433 user=app password=pw dbname=app options='-c search_path=pgscale_x'",
	}
	for _, dsn := range cases {
		out, err := dsnWithAddr(dsn, "127.0.0.1:40000")
		if err != nil {
			t.Errorf("%s: %v", dsn, err)
			continue
		}
		cfg, err := pgconn.ParseConfig(out)
		if err != nil {
			t.Errorf("%s -> %s: %v", dsn, out, err)
			continue
		}
		orig, _ := pgconn.ParseConfig(dsn)
		if cfg.Host != "127.0.0.1" || cfg.Port != 40000 || cfg.User != orig.User || cfg.Database != orig.Database ||
			cfg.Password != orig.Password || cfg.RuntimeParams["hostaddr"] != "" {
			t.Errorf("%s -> %s: host %s port %d user %s db %s", dsn, out, cfg.Host, cfg.Port, cfg.User, cfg.Database)
		}
	}
	if _, _, err := dsnHostPort("host=/var/run/postgresql dbname=x"); err == nil || !strings.Contains(err.Error(), "Unix socket") {
		t.Errorf("a Unix socket DSN: %v", err)
	}
}

func TestValidateLatency(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{-time.Millisecond, 2 * time.Minute} {
		if err := ValidateLatency(d); err == nil || !usage.Is(err) {
			t.Errorf("ValidateLatency(%s) = %v, want a usage error", d, err)
		}
	}
	if err := ValidateLatency(12 * time.Millisecond); err != nil {
		t.Error(err)
	}
}
