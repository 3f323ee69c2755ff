package script

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"
	"time"

	"github.com/pgscale/pgscale/internal/pgwire"
)

// Wire drives a Client over raw protocol messages, for an engine that owns the connection's
// socket (loadgen/mux): Next appends the frontend messages of the next SQL command, Receive takes
// each backend message of the reply. It runs the same interpreter as Run, with text-format
// parameters and results, and observes each SQL command as Run does. Pipelines are not supported
// (the caller refuses scripts with them: Script.UsesPipeline); their meta-commands fail.
type Wire struct {
	c   *Client
	obs Observer

	cmd      *Command
	started  time.Time
	rollback bool // the request in flight is the ROLLBACK after a failure
	sleeping bool

	results int   // results of cmd completed so far
	rows    int   // rows of the result being stored
	storing bool  // the current result is stored (\gset, \aset)
	err     error // the server's ErrorResponse
	bad     error // a store error (a bad column name, \gset without one row)
	parsing []*sqlPart
}

// NewWire makes a driver for c, telling obs about each SQL command (obs may be nil). The
// connection is new to c: it prepares its statements on it as it needs them.
func NewWire(c *Client, obs Observer) *Wire {
	c.prepConn, c.prepared = nil, map[*sqlPart]string{}
	return &Wire{c: c, obs: obs}
}

// Client is the client the wire drives.
func (w *Wire) Client() *Client { return w.c }

// Next appends to buf the request the client sends next, at now. When it appends nothing, the
// step says why: StepSleep (call Next again after Step.Sleep) or StepDone (the transaction
// ended: Client.Outcome; call Client.Begin for the next one).
func (w *Wire) Next(buf []byte, now time.Time) ([]byte, Step) {
	c := w.c
	if w.sleeping {
		w.sleeping = false
		c.Done(nil, c.tx.txStatus)
	}
	for {
		st := c.Next()
		switch st.Kind {
		case StepSQL:
			out, err := w.appendRequest(buf, st.Cmd)
			if err != nil {
				if w.obs != nil {
					w.obs(c.tx.si, st.Cmd, now, 0, err)
				}
				c.Done(err, c.tx.txStatus)
				continue
			}
			w.cmd, w.started = st.Cmd, now
			return out, st
		case StepSleep:
			w.sleeping = true
			return buf, st
		case StepFailed:
			if c.tx.txStatus != 'I' {
				w.rollback = true
				return appendQuery(buf, "ROLLBACK"), st
			}
			c.Recover(false)
		case StepPipeline:
			c.Done(runtimeErr(st.Cmd, "\\"+st.Cmd.Meta+": pipelines do not run on the mux engine"), c.tx.txStatus)
		default: // StepDone
			return buf, st
		}
	}
}

// appendRequest appends the messages of cmd: a Query (simple), or Parse (extended; prepared the
// first time), Bind, Describe (when storing), Execute per query and one Sync.
func (w *Wire) appendRequest(buf []byte, cmd *Command) ([]byte, error) {
	c := w.c
	w.results, w.rows, w.storing, w.err, w.bad = 0, 0, false, nil, nil
	w.parsing = w.parsing[:0]
	if c.proto == ProtocolSimple {
		start := len(buf)
		buf = append(buf, 'Q', 0, 0, 0, 0)
		buf, err := c.appendSimpleSQL(buf, cmd)
		if err != nil {
			return buf[:start], err
		}
		return finishMsg(append(buf, 0), start), nil
	}
	start := len(buf)
	for _, part := range cmd.parts {
		params, err := c.bindParams(cmd, part)
		if err != nil {
			return buf[:start], err
		}
		stmt := ""
		if c.proto == ProtocolPrepared {
			name, ok := c.prepared[part]
			if !ok {
				name = part.stmt + "_" + strconv.FormatUint(c.serial, 10)
			}
			if !ok && !slices.Contains(w.parsing, part) {
				buf = appendParse(buf, name, part.params)
				w.parsing = append(w.parsing, part)
			}
			stmt = name
		} else {
			buf = appendParse(buf, "", part.params)
		}
		buf = appendBind(buf, stmt, params)
		if cmd.store != storeNone {
			buf = append(buf, 'D', 0, 0, 0, 6, 'P', 0)
		}
		buf = append(buf, 'E', 0, 0, 0, 9, 0, 0, 0, 0, 0)
	}
	return append(buf, 'S', 0, 0, 0, 4), nil
}

// PendingError is the ErrorResponse of the request in flight, if one came: the server's reason
// when the connection breaks before its ReadyForQuery (a FATAL such as 57P01 before closing).
func (w *Wire) PendingError() error { return w.err }

// Receive handles one backend message of the request in flight at now; it returns true at its
// end (ReadyForQuery): call Next.
func (w *Wire) Receive(typ byte, body []byte, now time.Time) bool {
	c := w.c
	switch typ {
	case '1': // ParseComplete: the statement exists now, whatever follows
		if len(w.parsing) > 0 {
			part := w.parsing[0]
			w.parsing = w.parsing[1:]
			c.prepared[part] = part.stmt + "_" + strconv.FormatUint(c.serial, 10)
		}
	case 'T':
		cmd := w.cmd
		w.storing = !w.rollback && (cmd.store == storeAset || cmd.store == storeGset && w.results == len(cmd.parts)-1)
		if w.storing {
			w.rows = 0
			c.names = rowNames(c.names[:0], body)
		}
	case 'D':
		if !w.storing {
			break
		}
		w.rows++
		if w.cmd.store == storeGset && w.rows > 1 {
			break
		}
		c.params = rowValues(c.params[:0], body)
		if len(c.params) == len(c.names) {
			if err := c.storeRow(w.cmd, c.names, c.params); err != nil && w.bad == nil {
				w.bad = err
			}
		}
	case 'C', 'I': // CommandComplete, EmptyQueryResponse
		switch {
		case w.storing && w.bad == nil:
			w.bad = storedRows(w.cmd, w.rows)
		case !w.storing && !w.rollback && w.bad == nil && w.cmd.store == storeGset && w.results == len(w.cmd.parts)-1:
			// \gset's command returned no rows at all (no RowDescription: an UPDATE, an empty
			// query), which is "expected one row, got 0", as over pgconn and in pgbench.
			w.bad = storedRows(w.cmd, 0)
		}
		w.storing = false
		w.results++
	case 'E':
		if w.err == nil {
			w.err = pgwire.ParseError(body)
		}
		w.storing = false
	case 'Z':
		status := byte('I')
		if len(body) > 0 {
			status = body[0]
		}
		if w.rollback {
			w.rollback = false
			c.tx.txStatus = status
			c.Recover(false)
			return true
		}
		err := w.err
		if err == nil {
			err = w.bad
			if err == nil && w.cmd.store == storeGset && w.results < len(w.cmd.parts) {
				err = storedRows(w.cmd, 0)
			}
		}
		if w.obs != nil {
			w.obs(c.tx.si, w.cmd, w.started, now.Sub(w.started), err)
		}
		c.Done(err, status)
		return true
	}
	return false
}

// rowNames appends the column names of a RowDescription to names, reusing the strings already
// there when they are the same (a command's columns usually are).
func rowNames(names []string, body []byte) []string {
	if len(body) < 2 {
		return names
	}
	n := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	old := names[:cap(names)]
	for j := 0; j < n; j++ {
		end := bytes.IndexByte(body, 0)
		if end < 0 {
			break
		}
		var name string
		if j < len(old) && old[j] == string(body[:end]) {
			name = old[j]
		} else {
			name = string(body[:end])
		}
		names = append(names, name)
		if len(body) < end+1+18 {
			break
		}
		body = body[end+1+18:]
	}
	return names
}

// rowValues appends the text values of a DataRow to vals (nil for NULL).
func rowValues(vals [][]byte, body []byte) [][]byte {
	if len(body) < 2 {
		return vals
	}
	n := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	for j := 0; j < n && len(body) >= 4; j++ {
		l := int32(binary.BigEndian.Uint32(body))
		body = body[4:]
		if l < 0 {
			vals = append(vals, nil)
			continue
		}
		if int(l) > len(body) {
			break
		}
		vals = append(vals, body[:l:l])
		body = body[l:]
	}
	return vals
}

// appendQuery appends a Query message.
func appendQuery(buf []byte, sql string) []byte {
	start := len(buf)
	buf = append(buf, 'Q', 0, 0, 0, 0)
	buf = append(buf, sql...)
	return finishMsg(append(buf, 0), start)
}

// appendParse appends a Parse of query as statement name, with untyped parameters.
func appendParse(buf []byte, name, query string) []byte {
	start := len(buf)
	buf = append(buf, 'P', 0, 0, 0, 0)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, query...)
	buf = append(buf, 0, 0, 0)
	return finishMsg(buf, start)
}

// appendBind appends a Bind of statement stmt to the unnamed portal, parameters and results in
// text.
func appendBind(buf []byte, stmt string, params [][]byte) []byte {
	start := len(buf)
	buf = append(buf, 'B', 0, 0, 0, 0, 0) // the unnamed portal
	buf = append(buf, stmt...)
	buf = append(buf, 0, 0, 0) // the statement's end; no parameter format codes: text
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(params)))
	for _, p := range params {
		if p == nil {
			buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(p)))
		buf = append(buf, p...)
	}
	buf = append(buf, 0, 0) // no result format codes: text
	return finishMsg(buf, start)
}

// finishMsg writes the length of the message that starts at start.
func finishMsg(buf []byte, start int) []byte {
	binary.BigEndian.PutUint32(buf[start+1:], uint32(len(buf)-start-1))
	return buf
}
