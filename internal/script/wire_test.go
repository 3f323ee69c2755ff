package script

import (
	"strings"
	"testing"
	"time"
)

// The bodies of the backend messages serve answers with.
var (
	rowDesc  = []byte("\x00\x01x\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00")
	dataRow  = []byte("\x00\x01\x00\x00\x00\x017")
	complete = []byte("SELECT 1\x00")
	statuses = map[byte][]byte{'I': {'I'}, 'T': {'T'}}
)

// serve answers w's requests of one transaction of script i of m as a server would, each SQL
// command with rows rows of one column "x" holding "7", until the transaction ends; it returns
func serve(t testing.TB, w *Wire, m *Mix, rows int, buf []byte) {
	w.c.Begin(m, 0)
	now := time.Now()
	status := byte('I')
	for {
		out, st := w.Next(buf[:0], now)
		if st.Kind == StepDone {
			return
		}
		if st.Kind == StepSleep {
			continue
		}
		if len(out) == 0 {
			t.Fatalf("step %v appended nothing", st.Kind)
		}
		sql := ""
		if st.Cmd != nil {
			sql = st.Cmd.SQL
		}
		switch sql {
		case "BEGIN":
			status = 'T'
		case "END", "COMMIT":
			status = 'I'
		}
		if out[0] == 'P' {
			w.Receive('1', nil, now)
		}
		w.Receive('T', rowDesc, now)
		for range rows {
			w.Receive('D', dataRow, now)
		}
		w.Receive('C', complete, now)
		if !w.Receive('Z', statuses[status], now) {
			t.Fatal("ReadyForQuery did not end the request")
		}
	}
}

func wireScript(t testing.TB, src string, proto Protocol) (*Wire, *Mix) {
	s, err := Parse("test.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMix([]*Script{s})
	if err != nil {
		t.Fatal(err)
	}
	return NewWire(NewClient(0, Options{Protocol: proto}, nil), nil), m
}

// TestWireGsetAndPrepare runs a \gset script over Wire: the column lands in the variable, the
// prepared protocol parses each query once, and \gset on a result of two rows is a script error.
func TestWireGsetAndPrepare(t *testing.T) {
	src := "SELECT 7 AS x \\gset p_\n\\if :p_x = 7\nSELECT :p_x;\n\\endif\n"
	w, m := wireScript(t, src, ProtocolPrepared)
	buf := make([]byte, 0, 256)
	serve(t, w, m, 1, buf)
	if out := w.c.Outcome(); out.Err != nil {
		t.Fatal(out.Err)
	}
	if v := w.c.vars["p_x"]; v.s != "7" {
		t.Fatalf("p_x = %+v, want the text 7", v)
	}
	w.c.Begin(m, 0)
	if out, _ := w.Next(nil, time.Now()); out[0] != 'B' {
		t.Fatalf("a prepared query's request starts with %q the second time, want a Bind without Parse", out[0])
	}
	w2, m2 := wireScript(t, src, ProtocolSimple)
	serve(t, w2, m2, 2, buf)
	if out := w2.c.Outcome(); out.Err == nil || !out.Fatal {
		t.Fatalf("outcome %+v: want \\gset's script error on two rows", out)
	}
}

// BenchmarkWireTPCB runs tpcb-like's interpreter, request encoding and reply decoding over Wire
// without a server: the mux engine's own work per transaction.
func BenchmarkWireTPCB(b *testing.B) {
	s, err := Builtin("tpcb-like")
	if err != nil {
		b.Fatal(err)
	}
	m, _ := NewMix([]*Script{s})
	for _, proto := range protocols {
		b.Run(string(proto), func(b *testing.B) {
			w := NewWire(NewClient(0, Options{Protocol: proto}, nil), nil)
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				serve(b, w, m, 1, buf)
				if out := w.c.Outcome(); out.Err != nil {
					b.Fatal(out.Err)
				}
			}
		})
	}
}

// TestWireGsetWithoutRows: \gset on a command that sends no RowDescription at all (an UPDATE,
// an empty query) is "expected one row, got 0", as over pgconn and in pgbench, under each
// protocol.
func TestWireGsetWithoutRows(t *testing.T) {
	for _, proto := range protocols {
		w, m := wireScript(t, "UPDATE t SET x = 1 \\gset\n", proto)
		w.c.Begin(m, 0)
		now := time.Now()
		out, st := w.Next(nil, now)
		if st.Kind == StepDone || len(out) == 0 {
			t.Fatalf("%s: no request for the UPDATE", proto)
		}
		if out[0] == 'P' {
			w.Receive('1', nil, now)
		}
		w.Receive('n', nil, now) // NoData, the extended protocols' answer to Describe
		w.Receive('C', []byte("UPDATE 1\x00"), now)
		w.Receive('Z', statuses['I'], now)
		if _, st := w.Next(nil, now); st.Kind != StepDone {
			t.Fatalf("%s: step %v after the UPDATE, want the transaction done", proto, st.Kind)
		}
		if o := w.c.Outcome(); o.Err == nil || !strings.Contains(o.Err.Error(), "expected one row, got 0") {
			t.Errorf("%s: outcome %+v, want \\gset's script error on no rows", proto, o)
		}
	}
}
