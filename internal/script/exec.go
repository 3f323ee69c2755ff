package script

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const sqlstateDuplicatePrepared = "42P05"

// bindParams returns the text values of a query's variables, NULL as a nil slice.
func (c *Client) bindParams(cmd *Command, part *sqlPart) ([][]byte, error) {
	c.buf, c.offs, c.params = c.buf[:0], c.offs[:0], c.params[:0]
	for _, name := range part.vars {
		v, ok := c.vars[name]
		if !ok {
			return nil, runtimeErr(cmd, "undefined variable \""+name+"\" in SQL")
		}
		if v.k == kNull {
			c.offs = append(c.offs, -1, -1)
			continue
		}
		start := len(c.buf)
		c.buf = v.appendText(c.buf)
		c.offs = append(c.offs, start, len(c.buf))
	}
	for j := 0; j < len(c.offs); j += 2 {
		if c.offs[j] < 0 {
			c.params = append(c.params, nil)
			continue
		}
		c.params = append(c.params, c.buf[c.offs[j]:c.offs[j+1]:c.offs[j+1]])
	}
	return c.params, nil
}

// simpleSQL is the command's text with its variables' values written in, as pgbench's simple
// protocol sends it; the queries of a \; compound are joined by semicolons.
func (c *Client) simpleSQL(cmd *Command) (string, error) {
	b, err := c.appendSimpleSQL(c.buf[:0], cmd)
	c.buf = b
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendSimpleSQL appends simpleSQL's text to b.
func (c *Client) appendSimpleSQL(b []byte, cmd *Command) ([]byte, error) {
	for k, part := range cmd.parts {
		if k > 0 {
			b = append(b, ";\n"...)
		}
		for j, name := range part.vars {
			b = append(b, part.chunks[j]...)
			v, ok := c.vars[name]
			if !ok {
				return b, runtimeErr(cmd, "undefined variable \""+name+"\" in SQL")
			}
			b = v.appendText(b)
		}
		b = append(b, part.chunks[len(part.vars)]...)
	}
	return b, nil
}

// execSQL runs one SQL command outside a pipeline and tells the observer.
func (c *Client) execSQL(ctx context.Context, pg *pgconn.PgConn, si int, cmd *Command, obs Observer) error {
	started := time.Now()
	var err error
	switch {
	case c.proto == ProtocolSimple:
		err = c.execSimple(ctx, pg, cmd)
	case len(cmd.parts) == 1:
		err = c.execExtended(ctx, pg, cmd, cmd.parts[0])
	default:
		err = c.execCompound(ctx, pg, cmd)
	}
	if obs != nil {
		obs(si, cmd, started, time.Since(started), err)
	}
	return err
}

func (c *Client) execSimple(ctx context.Context, pg *pgconn.PgConn, cmd *Command) error {
	sql, err := c.simpleSQL(cmd)
	if err != nil {
		return err
	}
	mrr := pg.Exec(ctx, sql)
	n := 0
	var storeErr error
	for mrr.NextResult() {
		n++
		rr := mrr.ResultReader()
		if cmd.store == storeAset || cmd.store == storeGset && n == len(cmd.parts) {
			if err := c.storeRows(cmd, rr); err != nil && storeErr == nil {
				storeErr = err
			}
		} else {
			_, _ = rr.Close() // its error is the MultiResultReader's too
		}
	}
	if err := mrr.Close(); err != nil {
		return err
	}
	return storeErr
}

// ensurePrepared prepares a query on this connection once and returns its statement's name,
// which is unique to the client so that clients sharing a connection one after the other never
// collide (a failed PREPARE would abort the transaction it runs in).
func (c *Client) ensurePrepared(ctx context.Context, pg *pgconn.PgConn, part *sqlPart) (string, error) {
	if name, ok := c.prepared[part]; ok {
		return name, nil
	}
	name := part.stmt + "_" + strconv.FormatUint(c.serial, 10)
	if _, err := pg.Prepare(ctx, name, part.params, nil); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != sqlstateDuplicatePrepared {
			return "", err
		}
	}
	c.prepared[part] = name
	return name, nil
}

func (c *Client) execExtended(ctx context.Context, pg *pgconn.PgConn, cmd *Command, part *sqlPart) error {
	var stmt string
	if c.proto == ProtocolPrepared {
		var err error
		if stmt, err = c.ensurePrepared(ctx, pg, part); err != nil {
			return err
		}
	}
	params, err := c.bindParams(cmd, part)
	if err != nil {
		return err
	}
	var rr *pgconn.ResultReader
	if c.proto == ProtocolPrepared {
		rr = pg.ExecPrepared(ctx, stmt, params, nil, nil)
	} else {
		rr = pg.ExecParams(ctx, part.params, params, nil, nil, nil)
	}
	if cmd.store != storeNone {
		return c.storeRows(cmd, rr)
	}
	_, err = rr.Close()
	return err
}

// execCompound runs a \; compound with the extended or prepared protocol: its queries go in one
// pipeline ended by one Sync, so that they share an implicit transaction as in a simple query.
func (c *Client) execCompound(ctx context.Context, pg *pgconn.PgConn, cmd *Command) error {
	if c.proto == ProtocolPrepared {
		for _, part := range cmd.parts {
			if _, err := c.ensurePrepared(ctx, pg, part); err != nil {
				return err
			}
		}
	}
	p := pg.StartPipeline(ctx)
	for _, part := range cmd.parts {
		params, err := c.bindParams(cmd, part)
		if err != nil {
			_ = p.Sync()
			_ = p.Close()
			return err
		}
		if c.proto == ProtocolPrepared {
			p.SendQueryPrepared(c.prepared[part], params, nil, nil)
		} else {
			p.SendQueryParams(part.params, params, nil, nil, nil)
		}
	}
	if err := p.Sync(); err != nil {
		_ = p.Close()
		return err
	}
	var first error
	for k := range cmd.parts {
		res, err := p.GetResults()
		if err != nil {
			first = err
			break
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			first = errors.New("pipeline: unexpected result " + typeName(res))
			break
		}
		if cmd.store == storeAset || cmd.store == storeGset && k == len(cmd.parts)-1 {
			if err := c.storeRows(cmd, rr); err != nil {
				first = err
				break
			}
		} else if _, err := rr.Close(); err != nil {
			first = err
			break
		}
	}
	if err := p.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// storeRows stores a query's result into variables named after its columns (with the prefix):
// \gset needs exactly one row; \aset keeps the last row and assigns nothing when there is none.
func (c *Client) storeRows(cmd *Command, rr *pgconn.ResultReader) error {
	c.names = c.names[:0]
	for _, fd := range rr.FieldDescriptions() {
		c.names = append(c.names, fd.Name)
	}
	n := 0
	var bad error
	for rr.NextRow() {
		n++
		if cmd.store == storeGset && n > 1 {
			continue
		}
		if err := c.storeRow(cmd, c.names, rr.Values()); err != nil && bad == nil {
			bad = err
		}
	}
	if _, err := rr.Close(); err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	return storedRows(cmd, n)
}

// storeRow stores one row's text values (nil for NULL) under its columns' names; it returns an
// error for a column that makes no valid variable name.
func (c *Client) storeRow(cmd *Command, names []string, vals [][]byte) error {
	var bad error
	for j := range names {
		name := cmd.prefix + names[j]
		if !validVarName(name) {
			if bad == nil {
				bad = runtimeErr(cmd, "\\gset: column "+strconv.Quote(names[j])+" does not make a valid variable name "+strconv.Quote(name)+" (name the column with AS)")
			}
			continue
		}
		if vals[j] == nil {
			c.vars[name] = nullValue
		} else {
			c.vars[name] = value{k: kString, s: string(vals[j])}
		}
	}
	return bad
}

// storedRows checks the number of rows n a stored result had: \gset needs exactly one.
func storedRows(cmd *Command, n int) error {
	if cmd.store == storeGset && n != 1 {
		return runtimeErr(cmd, "\\gset: expected one row, got "+strconv.Itoa(n))
	}
	return nil
}

type pendKind uint8

const (
	pendQuery pendKind = iota
	pendSync
)

type pending struct {
	kind    pendKind
	cmd     *Command
	started time.Time
}

// pipeline is an open \startpipeline block: queries are sent without waiting for results, which
// are read at \endpipeline.
type pipeline struct {
	ctx     context.Context
	p       *pgconn.Pipeline
	si      int
	obs     Observer
	pending []pending
}

func (pl *pipeline) send(c *Client, cmd *Command) error {
	if cmd.store != storeNone {
		return runtimeErr(cmd, "\\gset and \\aset cannot be used inside a pipeline")
	}
	started := time.Now()
	for _, part := range cmd.parts {
		params, err := c.bindParams(cmd, part)
		if err != nil {
			return err
		}
		if c.proto == ProtocolPrepared {
			pl.p.SendQueryPrepared(c.prepared[part], params, nil, nil)
		} else {
			pl.p.SendQueryParams(part.params, params, nil, nil, nil)
		}
		pl.pending = append(pl.pending, pending{kind: pendQuery, cmd: cmd, started: started})
	}
	return nil
}

// finish sends the final Sync, reads every result in order and leaves pipeline mode. After an
// error the server skips the queries up to the next sync point; they are not observed.
func (pl *pipeline) finish() error {
	if err := pl.p.Sync(); err != nil {
		_ = pl.p.Close()
		return err
	}
	var first error
	skipping := false
	for _, pe := range pl.pending {
		if pe.kind == pendSync {
			if _, err := pl.p.GetResults(); err != nil && first == nil {
				first = err
			}
			skipping = false
			continue
		}
		if skipping {
			continue
		}
		res, err := pl.p.GetResults()
		if err == nil {
			if rr, ok := res.(*pgconn.ResultReader); ok {
				_, err = rr.Close()
			} else {
				err = errors.New("pipeline: unexpected result " + typeName(res))
			}
		}
		if pl.obs != nil {
			pl.obs(pl.si, pe.cmd, pe.started, time.Since(pe.started), err)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				break
			}
			skipping = true
		}
	}
	if err := pl.p.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// abort leaves pipeline mode after an error in the script, keeping the connection usable.
func (pl *pipeline) abort() {
	_ = pl.p.Sync()
	_ = pl.p.Close()
}
