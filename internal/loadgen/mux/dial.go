package mux

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/pgwire"
)

// How the engine opens a connection per request (Config.PerOp), as pgbench -C does.
//
// A goroutine per connect parks and wakes around each of the connect's round trips (the server's
// answer to the startup message, each authentication step, the query's reply): 7 context switches
// per connect against pgbench's 2, and 1.4× pgbench's client CPU at 1 client (loadgen/README.md).
// Here the engine's thread opens the socket itself, non-blocking, writes the startup message and
// answers the authentication requests from its epoll loop, as it reads the replies of the lookups:
// nothing is parked, nothing is woken but the thread. It speaks what a plaintext connection can
// meet: trust, password, md5 and SCRAM-SHA-256 (whose salted password is computed once per run,
// not once per connect: the salt and iteration count are the role's). Other methods (GSSAPI,
// SSPI) are refused when the engine opens, where the probe connect meets them.

// dialer holds what every connect of a run sends: where, and the startup message.
type dialer struct {
	family   int
	sockaddr rawSockaddr
	where    string // host:port or the socket's path, for errors
	startup  []byte // the StartupMessage
	password string
	md5Inner string        // hex md5(password + user), md5 authentication's inner hash
	scram    *scram.Client // caches the salted password per salt and iteration count; safe for every thread
}

// dialPhase is where a connection is in its opening.
type dialPhase uint8

const (
	dialIdle       dialPhase = iota // not opening (no connection, or the request is under way)
	dialConnecting                  // the TCP handshake is under way: waiting to be writable
	dialStartup                     // the startup message sent: authenticating until ReadyForQuery
)

// dialState is one connection's opening.
type dialState struct {
	phase   dialPhase
	started time.Time
	conv    *scram.ClientConversation
}

// newDialer resolves where cc connects and encodes the startup message once. A connection string
// that names one server is dialled at its first entry without TLS. One that names several, or
// asks for a kind of server (target_session_attrs), is resolved once by a pgx connection, which
// tries the hosts in order, within timeout for them all, and checks the kind of each: every
// connect of the run then goes to the server it reached, the one the run's sampler reaches too.
func newDialer(ctx context.Context, cc *pgx.ConnConfig, timeout time.Duration) (*dialer, error) {
	host, port, ok := plainEntry(cc)
	if !ok {
		return nil, errors.New("mux: " + NeedsPlaintext)
	}
	if !oneServer(cc) {
		var err error
		if host, port, err = reachedServer(ctx, cc, timeout); err != nil {
			return nil, err
		}
	}
	d := &dialer{password: cc.Password}
	if strings.HasPrefix(host, "/") {
		path := host + "/.s.PGSQL." + strconv.Itoa(int(port))
		sa, err := unixSockaddr(path)
		if err != nil {
			return nil, err
		}
		d.family, d.sockaddr, d.where = unix.AF_UNIX, sa, path
	} else {
		addr, err := resolve(ctx, cc, host)
		if err != nil {
			return nil, err
		}
		ap := netip.AddrPortFrom(addr, port)
		d.family, d.sockaddr = inetSockaddr(ap)
		d.where = ap.String()
	}
	params := map[string]string{"user": cc.User}
	if cc.Database != "" {
		params["database"] = cc.Database
	}
	for k, v := range cc.RuntimeParams {
		params[k] = v
	}
	msg := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: params}
	var err error
	if d.startup, err = msg.Encode(nil); err != nil {
		return nil, fmt.Errorf("mux: encode the startup message: %w", err)
	}
	sum := md5.Sum([]byte(cc.Password + cc.User))
	d.md5Inner = hex.EncodeToString(sum[:])
	// PostgreSQL ignores the SCRAM user name (the startup message's is used), as libpq sends it
	// empty. The iteration count is the server's to choose: the secret is the user's. One client
	// serves every thread (it locks its cache of salted passwords). A password SASLprep refuses
	// (a control character) is used as it is, as PostgreSQL and pgx do.
	client, err := scram.SHA256.NewClient("", cc.Password, "")
	if err != nil {
		if client, err = scram.SHA256.NewClientUnprepped("", cc.Password, ""); err != nil {
			return nil, errors.New("mux: SCRAM: the password cannot be used")
		}
	}
	d.scram = client.WithMinIterations(1)
	return d, nil
}

// oneServer tells whether every entry of cc is the same host and port (an entry with TLS and its
// plaintext fallback, as sslmode=prefer makes), with no check of the server after connecting.
func oneServer(cc *pgx.ConnConfig) bool {
	if cc.ValidateConnect != nil {
		return false
	}
	for _, fb := range cc.Fallbacks {
		if fb.Host != cc.Host || fb.Port != cc.Port {
			return false
		}
	}
	return true
}

// reachedServer is the host and port (for a Unix socket, its directory and port) of the server
// a pgx connection with cc reaches; it refuses one reached over TLS.
func reachedServer(ctx context.Context, cc *pgx.ConnConfig, timeout time.Duration) (string, uint16, error) {
	pc, err := loadgen.Connect(ctx, cc, timeout)
	if err != nil {
		return "", 0, fmt.Errorf("mux: connect to find which of the connection string's servers takes the load: %w", err)
	}
	defer pc.Close(context.Background())
	nc := pc.PgConn().Conn()
	if _, plain := nc.(syscall.Conn); !plain {
		return "", 0, errors.New("mux: " + NeedsPlaintext)
	}
	switch addr := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return addr.IP.String(), uint16(addr.Port), nil
	case *net.UnixAddr:
		dir, file := filepath.Split(addr.Name)
		port, err := strconv.ParseUint(strings.TrimPrefix(file, ".s.PGSQL."), 10, 16)
		if err != nil || dir == "" {
			return "", 0, fmt.Errorf("mux: the server's socket %s is not a PostgreSQL socket path", addr.Name)
		}
		return filepath.Clean(dir), uint16(port), nil
	default:
		return "", 0, fmt.Errorf("mux: the server was reached over %s, which the engine cannot dial", nc.RemoteAddr().Network())
	}
}

// plainEntry is the host and port of cc's first entry (cc itself, then its fallbacks) that
// connects without TLS.
func plainEntry(cc *pgx.ConnConfig) (string, uint16, bool) {
	if cc.TLSConfig == nil {
		return cc.Host, cc.Port, true
	}
	for _, fb := range cc.Fallbacks {
		if fb.TLSConfig == nil {
			return fb.Host, fb.Port, true
		}
	}
	return "", 0, false
}

// resolve is host's first address, looked up once per run (pgx looks it up on every connect).
func resolve(ctx context.Context, cc *pgx.ConnConfig, host string) (netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap(), nil
	}
	lookup := cc.LookupFunc
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("mux: look up %s: %w", host, err)
	}
	for _, a := range addrs {
		if addr, err := netip.ParseAddr(a); err == nil {
			return addr.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("mux: look up %s: no IP address among %v", host, addrs)
}

// start opens a socket and starts connecting it. When the connect is over already (a Unix
// socket, or loopback's handshake done by the time it is asked again), it writes the startup
// message and the phase is dialStartup; otherwise dialConnecting, to be finished by connected
// once the socket is writable.
func (d *dialer) start() (fd int, phase dialPhase, err error) {
	fd, err = rawSocket(d.family)
	if err != nil {
		return -1, dialIdle, fmt.Errorf("mux: socket: %w", err)
	}
	if d.family != unix.AF_UNIX {
		if err := rawNoDelay(fd); err != nil {
			rawClose(fd)
			return -1, dialIdle, fmt.Errorf("mux: setsockopt TCP_NODELAY: %w", err)
		}
	}
	// EAGAIN is not "in progress": on a Unix socket it says the server's listen queue is full.
	err = rawConnect(fd, d.sockaddr)
	if errors.Is(err, unix.EINPROGRESS) || errors.Is(err, unix.EINTR) {
		// Ask again before waiting: over loopback the handshake is usually over by now.
		err = rawConnect(fd, d.sockaddr)
		switch {
		case errors.Is(err, unix.EISCONN):
			err = nil
		case errors.Is(err, unix.EALREADY) || errors.Is(err, unix.EINPROGRESS):
			return fd, dialConnecting, nil
		}
	}
	if err != nil {
		rawClose(fd)
		return -1, dialIdle, d.connectError(err)
	}
	if err := writeAll(fd, d.startup); err != nil {
		rawClose(fd)
		return -1, dialIdle, fmt.Errorf("mux: send the startup message to %s: %w", d.where, err)
	}
	return fd, dialStartup, nil
}

// connected finishes a connect that was under way: the socket has become writable (or failed).
func (d *dialer) connected(fd int) error {
	if err := rawConnectError(fd); err != nil {
		return d.connectError(err)
	}
	if err := writeAll(fd, d.startup); err != nil {
		return fmt.Errorf("mux: send the startup message to %s: %w", d.where, err)
	}
	return nil
}

func (d *dialer) connectError(err error) error {
	return fmt.Errorf("mux: connect to %s: %w", d.where, &net.OpError{Op: "dial", Err: err})
}

// errConnectTimeout marks a connect that was not ready within the engine's ConnectTimeout.
var errConnectTimeout = errors.New("not ready for queries within the connect timeout")

func (d *dialer) timeoutError(timeout time.Duration) error {
	return fmt.Errorf("mux: connect to %s: %w (%s)", d.where, errConnectTimeout, timeout)
}

// connectFailure is a connect that failed before the server was ready for queries, classed as
// loadgen's connection modes class theirs: refused, timed out, or failed. An ErrorResponse the
// server sent (a wrong password, 53300) keeps its SQLSTATE: loadgen.Classify looks for it first.
type connectFailure struct{ err error }

func (e *connectFailure) Error() string { return e.err.Error() }
func (e *connectFailure) Unwrap() error { return e.err }

// ErrorClass is the class loadgen.Classify gives the failure.
func (e *connectFailure) ErrorClass() string {
	switch {
	case errors.Is(e.err, unix.ECONNREFUSED):
		return loadgen.ClassConnectRefused
	case errors.Is(e.err, errConnectTimeout), errors.Is(e.err, unix.ETIMEDOUT):
		return loadgen.ClassConnectTimeout
	}
	return loadgen.ClassConnectFailed
}

// message handles one backend message of a connection's startup, answering the authentication
// requests on fd; ready says the startup is over (ReadyForQuery). An ErrorResponse (a wrong
// password, 53300 too many connections) is returned as the server's error.
func (d *dialer) message(fd int, st *dialState, typ byte, body []byte) (ready bool, err error) {
	switch typ {
	case msgReadyForQuery:
		return true, nil
	case msgError:
		return false, pgwire.ParseError(body)
	case 'R':
	default:
		return false, nil // ParameterStatus, BackendKeyData, NoticeResponse, NegotiateProtocolVersion
	}
	if len(body) < 4 {
		return false, fmt.Errorf("mux: an authentication request of %d bytes", len(body))
	}
	var reply pgproto3.FrontendMessage
	switch method := binary.BigEndian.Uint32(body); method {
	case pgproto3.AuthTypeOk:
		if st.conv != nil && !st.conv.Valid() {
			return false, errors.New("mux: SCRAM: the server said the authentication succeeded without proving it knows the password")
		}
		return false, nil
	case pgproto3.AuthTypeCleartextPassword:
		reply = &pgproto3.PasswordMessage{Password: d.password}
	case pgproto3.AuthTypeMD5Password:
		var m pgproto3.AuthenticationMD5Password
		if err := m.Decode(body); err != nil {
			return false, fmt.Errorf("mux: md5 authentication request: %w", err)
		}
		sum := md5.Sum(append([]byte(d.md5Inner), m.Salt[:]...))
		reply = &pgproto3.PasswordMessage{Password: "md5" + hex.EncodeToString(sum[:])}
	case pgproto3.AuthTypeSASL:
		if reply, err = d.scramFirst(st, body); err != nil {
			return false, err
		}
	case pgproto3.AuthTypeSASLContinue:
		if reply, err = d.scramStep(st, body); err != nil {
			return false, err
		}
	case pgproto3.AuthTypeSASLFinal:
		if _, err = d.scramStep(st, body); err != nil {
			return false, err
		}
		if !st.conv.Valid() {
			return false, errors.New("mux: SCRAM: the server's signature does not match")
		}
		return false, nil
	default:
		return false, fmt.Errorf("mux: authentication method %d: the mux engine answers trust, password, md5 "+
			"and scram-sha-256 (use the goroutine engine)", method)
	}
	out, err := reply.Encode(nil)
	if err != nil {
		return false, fmt.Errorf("mux: encode an authentication reply: %w", err)
	}
	if err := writeAll(fd, out); err != nil {
		return false, fmt.Errorf("mux: send an authentication reply: %w", err)
	}
	return false, nil
}

// scramFirst starts a SCRAM-SHA-256 exchange: the server offered its mechanisms.
func (d *dialer) scramFirst(st *dialState, body []byte) (pgproto3.FrontendMessage, error) {
	var m pgproto3.AuthenticationSASL
	if err := m.Decode(body); err != nil {
		return nil, fmt.Errorf("mux: SASL authentication request: %w", err)
	}
	const mechanism = "SCRAM-SHA-256"
	offered := false
	for _, mech := range m.AuthMechanisms {
		offered = offered || mech == mechanism
	}
	if !offered {
		return nil, fmt.Errorf("mux: the server offers SASL %v: the mux engine answers %s", m.AuthMechanisms, mechanism)
	}
	st.conv = d.scram.NewConversation()
	first, err := st.conv.Step("")
	if err != nil {
		return nil, fmt.Errorf("mux: SCRAM: %w", err)
	}
	return &pgproto3.SASLInitialResponse{AuthMechanism: mechanism, Data: []byte(first)}, nil
}

// scramStep answers the server's next SCRAM message (its first, or its final).
func (d *dialer) scramStep(st *dialState, body []byte) (pgproto3.FrontendMessage, error) {
	if st.conv == nil {
		return nil, errors.New("mux: a SCRAM message before the exchange started")
	}
	resp, err := st.conv.Step(string(body[4:]))
	if err != nil {
		return nil, fmt.Errorf("mux: SCRAM: %w", err)
	}
	return &pgproto3.SASLResponse{Data: []byte(resp)}, nil
}

// probe opens one connection with d, waiting for it in poll, and closes it: Open's check that
// the engine can connect (the address, the password, the authentication method) before the run.
func (d *dialer) probe(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	fd, phase, err := d.start()
	if err != nil {
		return err
	}
	defer rawClose(fd)
	var st dialState
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for {
		events := int16(unix.POLLIN)
		if phase == dialConnecting {
			events = unix.POLLOUT
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mux: connect to %s: %w", d.where, err)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return d.timeoutError(timeout)
		}
		ready, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: events}}, int(min(wait, 100*time.Millisecond)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("mux: poll: %w", err)
		}
		if ready < 1 {
			continue
		}
		if phase == dialConnecting {
			if err := d.connected(fd); err != nil {
				return err
			}
			phase = dialStartup
			continue
		}
		n, err := unix.Read(fd, chunk)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("mux: read the startup's reply from %s: %w", d.where, err)
		case n == 0:
			return fmt.Errorf("mux: %s closed the connection during its startup", d.where)
		}
		buf = append(buf, chunk[:n]...)
		for {
			typ, body, size, _, err := nextMessage(buf)
			if err != nil {
				return err
			}
			if size == 0 {
				break
			}
			ready, err := d.message(fd, &st, typ, body)
			if err != nil {
				return err
			}
			if ready {
				return sendTerminate(func(b []byte) (int, error) { return unix.Write(fd, b) })
			}
			buf = buf[size:]
		}
	}
}
