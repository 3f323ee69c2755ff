package script

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// FuzzRun parses arbitrary scripts and runs those that parse on a real server, with each
// protocol: it must never panic, and it must leave the connection idle (or closed). Every SQL
// command is replaced by a harmless SELECT of its own variables, so that generated input never
// changes the server; the control flow, variables, \gset/\aset, \sleep and pipelines are the
// input's. Each run has half a second.
func FuzzRun(f *testing.F) {
	for _, name := range BuiltinNames() {
		f.Add([]byte(builtins[name]))
	}
	f.Add([]byte("\\startpipeline\n\\if false\n\\endpipeline\n\\endif\nSELECT :x \\gset\n"))
	f.Add([]byte("\\set x 1\nSELECT :x AS y \\; SELECT 2 \\aset p_\n\\if :p_a = 1\n\\sleep :x us\n\\elif :y\n\\else\n\\endif\n"))
	f.Add([]byte("\\startpipeline\nSELECT :client_id;\n\\syncpipeline\nSELECT :scale \\; SELECT 1;\n\\endpipeline\n"))
	var conn *pgx.Conn
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.sql", src)
		if err != nil {
			return
		}
		for _, c := range s.Commands {
			for k, part := range c.parts {
				q := "SELECT 1 AS a"
				for j, v := range part.vars {
					q += ", :" + v + "::text AS c" + strconv.Itoa(j)
				}
				c.parts[k] = splitVars(q)
			}
		}
		if conn == nil || conn.IsClosed() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if conn, err = pgx.Connect(ctx, serverDSN(t)); err != nil {
				t.Fatal(err)
			}
		}
		m, err := NewMix([]*Script{s})
		if err != nil {
			t.Fatal(err)
		}
		proto := protocols[len(src)%3]
		if proto == ProtocolSimple && strings.Contains(string(src), "pipeline") {
			proto = ProtocolExtended
		}
		c := NewClient(0, Options{Protocol: proto, MaxTries: 2, Vars: testVars}, rand.New(rand.NewPCG(1, 2)))
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		out := c.Run(ctx, conn, m, 0, nil)
		if out.Err == nil && out.Fatal {
			t.Fatalf("fatal without an error: %+v", out)
		}
		if !conn.IsClosed() && ctx.Err() == nil && conn.PgConn().TxStatus() != 'I' {
			t.Fatalf("connection left in state %c after %+v", conn.PgConn().TxStatus(), out)
		}
	})
}
