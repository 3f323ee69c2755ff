package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgscale/pgscale/internal/conninfo"
	"github.com/pgscale/pgscale/internal/usage"
)

// Latency proxy limits.
const (
	// latencyChunk is the most one read takes from a socket (the read buffer of each direction).
	// PostgreSQL's messages are mostly far smaller; 32 KiB keeps COPY and big result sets at a
	// few chunks per round trip.
	latencyChunk = 32 << 10
	// latencyQueue bounds the chunks in flight per direction of one connection: up to 64 × 32 KiB
	// (2 MiB), so a bulk transfer at 10 ms still moves 200 MB/s, while a stalled reader cannot make
	// the proxy buffer without limit (TCP's own flow control takes over).
	latencyQueue = 64
	// LatencyMax bounds --latency: a minute is far beyond any network, so more is a typo.
	LatencyMax = time.Minute
)

// StartTarget starts a target with provider and, when spec.Latency is more than 0, puts a
// latency proxy between the load and it (see WithLatency). A failed start leaves nothing running.
func StartTarget(ctx context.Context, provider Provider, spec Spec) (Target, error) {
	if err := ValidateLatency(spec.Latency); err != nil {
		return nil, err
	}
	t, err := provider.Start(ctx, spec)
	if err != nil || spec.Latency <= 0 {
		return t, err
	}
	lt, err := WithLatency(t, spec.Latency)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(err, t.Close(cctx))
	}
	return lt, nil
}

// ValidateLatency rejects a negative or absurd --latency.
func ValidateLatency(d time.Duration) error {
	if d < 0 || d > LatencyMax {
		return usage.Fieldf("latency", "%s: must be from 0 (none) to %s, e.g. 2ms or 12ms", d, LatencyMax)
	}
	return nil
}

// latencyTarget is a target whose load goes through a LatencyProxy; setup and the sampler still
// connect directly (AdminDSN).
type latencyTarget struct {
	Target
	proxy *LatencyProxy
	dsn   string
}

// WithLatency returns t with its load (DSN) going through an in-process proxy that adds rtt of
// round-trip time: half on the way to the server, half on the way back. Closing it closes the
// proxy, then t. The DSN must name a TCP host (not a Unix socket).
func WithLatency(t Target, rtt time.Duration) (Target, error) {
	host, port, err := dsnHostPort(t.DSN())
	if err != nil {
		return nil, fmt.Errorf("--latency: %w", err)
	}
	proxy, err := NewLatencyProxy(net.JoinHostPort(host, strconv.Itoa(int(port))), rtt)
	if err != nil {
		return nil, err
	}
	dsn, err := dsnWithAddr(t.DSN(), proxy.Addr())
	if err != nil {
		proxy.Close()
		return nil, fmt.Errorf("--latency: %w", err)
	}
	return &latencyTarget{Target: t, proxy: proxy, dsn: dsn}, nil
}

// DSN is the proxy's address.
func (t *latencyTarget) DSN() string { return t.dsn }

// Detail adds the latency and how it is made.
func (t *latencyTarget) Detail() map[string]string {
	d := maps.Clone(t.Target.Detail())
	if d == nil {
		d = map[string]string{}
	}
	d["latency"] = t.proxy.RTT().String()
	d["latency_proxy"] = "in-process TCP proxy, half of the round trip each way, load only"
	return d
}

// SampleSources passes the wrapped target's on.
func (t *latencyTarget) SampleSources() []SampleSource { return SampleSourcesOf(t.Target) }

// Close closes the proxy, then the target.
func (t *latencyTarget) Close(ctx context.Context) error {
	t.proxy.Close()
	return t.Target.Close(ctx)
}

// dsnHostPort is the first TCP host and port a DSN names.
func dsnHostPort(dsn string) (string, uint16, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", 0, fmt.Errorf("target dsn: %s", RedactDSN(err.Error()))
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return "", 0, fmt.Errorf("the target's address is a Unix socket (%s); the latency proxy needs a TCP host", cfg.Host)
	}
	return cfg.Host, cfg.Port, nil
}

// dsnWithAddr points a DSN (URL or key=value form) at addr ("host:port"), keeping the rest.
func dsnWithAddr(dsn, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("target dsn: %s", RedactDSN(err.Error()))
		}
		u.Host = addr
		q := u.Query()
		q.Del("host")
		q.Del("port")
		q.Del("hostaddr")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// key=value: host and port replaced, and any hostaddr dropped (libpq would connect to it
	// rather than to host; pgx knows no hostaddr and would send it to the server as a setting,
	// which refuses it).
	d, err := conninfo.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("target dsn: %w", err)
	}
	return d.With("hostaddr", "").With("host", host).With("port", port).Secret(), nil
}

// LatencyProxy forwards TCP connections from a loopback port to an upstream address, holding
// every chunk it reads for half the round-trip time before writing it on, in each direction. The
// chunks of one direction are pipelined: bandwidth is unchanged, latency is added once per
// direction, not per chunk.
type LatencyProxy struct {
	ln       net.Listener
	upstream string
	oneWay   time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewLatencyProxy listens on a free port of 127.0.0.1 and forwards to upstream with rtt added.
func NewLatencyProxy(upstream string, rtt time.Duration) (*LatencyProxy, error) {
	if err := ValidateLatency(rtt); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("latency proxy: listen: %w", err)
	}
	p := &LatencyProxy{ln: ln, upstream: upstream, oneWay: rtt / 2, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is where clients connect ("127.0.0.1:port").
func (p *LatencyProxy) Addr() string { return p.ln.Addr().String() }

// RTT is the round-trip time added.
func (p *LatencyProxy) RTT() time.Duration { return 2 * p.oneWay }

// Close stops accepting, closes every connection, and waits for the proxy's goroutines.
func (p *LatencyProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers a connection to close with the proxy; false when the proxy is closed.
func (p *LatencyProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *LatencyProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *LatencyProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

// serve connects client to upstream and pipes both ways. The upstream dial is not delayed: TCP's
// own handshake is the one exchange the proxy does not lengthen, every message after it is.
func (p *LatencyProxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.upstream, 10*time.Second)
	if err != nil {
		return // the client sees its connection closed, as with an unreachable server
	}
	if !p.track(server) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	for _, c := range []net.Conn{client, server} {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
	}
	// Each direction passes its end on as a half-close, so the far side ends the other one, as it
	// would on a direct connection (a server answers what it was sent before the client's end).
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
	<-done
}

// latencyChunkMsg is data read at a time, to be written at that time plus the one-way delay.
type latencyChunkMsg struct {
	data []byte
	at   time.Time
}

// pipe copies src to dst, each chunk no earlier than oneWay after it was read. Each chunk is a
// copy of what one read returned, so an idle connection holds only its read buffer.
func (p *LatencyProxy) pipe(dst, src net.Conn) {
	queue := make(chan latencyChunkMsg, latencyQueue)
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		broken := false
		for c := range queue {
			if broken {
				continue
			}
			if wait := time.Until(c.at.Add(p.oneWay)); wait > 0 {
				timer.Reset(wait)
				<-timer.C
			}
			if _, err := dst.Write(c.data); err != nil {
				broken = true
				_ = src.Close() // unblocks the reader
			}
		}
	}()
	buf := make([]byte, latencyChunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			queue <- latencyChunkMsg{data: append([]byte(nil), buf[:n]...), at: time.Now()}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-writeDone
	// Pass the end on once the data before it has been written (a half-close where TCP has one).
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}
