package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestWithRawDialOnlyReplacesPgxDefault(t *testing.T) {
	cc, err := pgx.ParseConfig("host=127.0.0.1 port=5432 sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	withRawDial(cc)
	if reflect.ValueOf(cc.DialFunc).Pointer() != reflect.ValueOf(dialTCP).Pointer() {
		t.Fatal("pgx's default DialFunc was not replaced with dialTCP")
	}
	own := func(ctx context.Context, network, addr string) (net.Conn, error) { return nil, errors.New("own") }
	cc.DialFunc = own
	withRawDial(cc)
	if reflect.ValueOf(cc.DialFunc).Pointer() != reflect.ValueOf(own).Pointer() {
		t.Fatal("a caller's own DialFunc was replaced")
	}
}

// A connection dialTCP opens reads, writes, times out and closes as a net.Conn does, with the
// errors loadgen's Classify tells apart.
func TestDialTCPBehavesAsANetConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := dialTCP(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var peer net.Conn
	select {
	case peer = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener accepted nothing")
	}
	defer peer.Close()
	if c.RemoteAddr().String() != ln.Addr().String() {
		t.Errorf("RemoteAddr %s, want %s", c.RemoteAddr(), ln.Addr())
	}
	if c.LocalAddr() == nil || c.LocalAddr().String() != peer.RemoteAddr().String() {
		t.Errorf("LocalAddr %v, want the listener's peer %s", c.LocalAddr(), peer.RemoteAddr())
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("the peer read %q, %v", buf, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) || Classify(err) != ClassTimeout {
		t.Errorf("a read past its deadline: %v (class %s), want a net.Error that times out", err, Classify(err))
	}
	_ = c.SetReadDeadline(time.Time{})
	peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("a read after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) || Classify(err) != ClassConnClosed {
		t.Errorf("a read after Close: %v (class %s), want net.ErrClosed", err, Classify(err))
	}
}

func TestDialTCPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = dialTCP(context.Background(), "tcp", addr)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("dial to a closed port: %v, want connection refused naming %s", err, addr)
	}
}

func TestDialTCPCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// 192.0.2.1 (TEST-NET-1) never answers; the connect may also fail at once where there is no
	// route. Either way the dial must end at once, not wait for a handshake.
	started := time.Now()
	c, err := dialTCP(ctx, "tcp", "192.0.2.1:5432")
	if err == nil {
		c.Close()
		t.Fatal("a dial with a canceled context succeeded")
	}
	if waited := time.Since(started); waited > 5*time.Second {
		t.Errorf("a canceled dial took %s", waited)
	}
}
