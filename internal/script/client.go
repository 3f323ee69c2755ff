package script

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Protocol is how SQL commands are sent, as pgbench's -M.
type Protocol string

// The protocols. See the package documentation for the default and how each maps onto pgx.
const (
	ProtocolSimple   Protocol = "simple"
	ProtocolExtended Protocol = "extended"
	ProtocolPrepared Protocol = "prepared"
)

// DefaultProtocol is the protocol used when Options.Protocol is empty: simple, as pgbench's.
const DefaultProtocol = ProtocolSimple

// Options configures the clients that run scripts.
type Options struct {
	Protocol        Protocol          // "" means DefaultProtocol
	MaxTries        int               // >= 1 (0 means 1); retries 40001 and 40P01 as pgbench 15 does
	ContinueOnError bool              // a failed transaction does not stop the client
	Vars            map[string]string // -D NAME=VALUE; they override the predefined variables
	Scale           int               // :scale (0 means 1)
	RandomSeed      uint64            // :random_seed; :default_seed is derived from it
	Debug           io.Writer         // where debug() writes; nil means standard error
}

func (o Options) protocol() Protocol {
	if o.Protocol == "" {
		return DefaultProtocol
	}
	return o.Protocol
}

// Observer is told about every SQL command executed: the script's index in the mix, the
// command, when it started, how long it took and its error (nil on success). A command that
// fails with a serialization failure and is then retried is observed with that error, once per
// try. In a pipeline, a command's time runs from when it was queued to when its result was read.
type Observer func(script int, cmd *Command, started time.Time, d time.Duration, err error)

// Outcome is how one transaction (one run of a script) ended.
type Outcome struct {
	Tries   int            // 1 when it committed the first time
	Retries map[string]int // SQLSTATE -> retries made (nil when none)
	// Err is nil when the script ran to its end; a *RuntimeError (class script_error), the last
	// *pgconn.PgError after the last try, or the context's error.
	Err error
	// Fatal says the client must stop: pgbench's rule on a script error, unless ContinueOnError.
	// Serialization failures and deadlocks that used up their tries are never fatal.
	Fatal bool
}

// Client is one pgbench client: its variables persist between its transactions. A Client is used
// by one goroutine at a time.
type Client struct {
	id    int
	opts  Options
	proto Protocol
	vars  map[string]value
	saved map[string]value
	ev    evaluator

	serial   uint64 // makes prepared statement names unique to the client
	prepConn *pgconn.PgConn
	prepared map[*sqlPart]string // the statements prepared on prepConn

	tx tx // the transaction being interpreted

	buf    []byte
	offs   []int
	params [][]byte
	names  []string // column names of a result being stored (\gset, \aset)
}

// NewClient makes client number id (its :client_id), drawing random numbers from r.
func NewClient(id int, opts Options, r *rand.Rand) *Client {
	if r == nil {
		r = rand.New(rand.NewPCG(opts.RandomSeed, uint64(id)))
	}
	scale := opts.Scale
	if scale == 0 {
		scale = 1
	}
	c := &Client{id: id, opts: opts, proto: opts.protocol(), vars: map[string]value{}, serial: clientCounter.Add(1)}
	c.vars["client_id"] = intValue(int64(id))
	c.vars["scale"] = intValue(int64(scale))
	c.vars["random_seed"] = intValue(int64(opts.RandomSeed))
	c.vars["default_seed"] = intValue(int64(hashMurmur2(opts.RandomSeed, 0x9e3779b97f4a7c15)))
	for k, v := range opts.Vars {
		c.vars[k] = value{k: kString, s: v}
	}
	c.ev = evaluator{vars: c.vars, rng: r, stderr: opts.Debug}
	if c.ev.stderr == nil {
		c.ev.stderr = os.Stderr
	}
	return c
}

var clientCounter atomic.Uint64

const (
	sqlstateSerialization = "40001"
	sqlstateDeadlock      = "40P01"
)

// Run runs script i of m once (one transaction in pgbench's sense) on conn, retrying
// serialization failures and deadlocks up to MaxTries times: the transaction is rolled back and
// the script restarts from its beginning with the variables as they were at its start. It never
// panics on runtime errors. It drives the client's interpreter (Begin, Next, Done, Recover)
// synchronously over pgconn.
func (c *Client) Run(ctx context.Context, conn *pgx.Conn, m *Mix, i int, obs Observer) Outcome {
	pg := conn.PgConn()
	if c.prepConn != pg {
		c.prepConn = pg
		c.prepared = map[*sqlPart]string{}
	}
	c.Begin(m, i)
	var pl *pipeline
	for {
		st := c.Next()
		switch st.Kind {
		case StepDone:
			return c.tx.out
		case StepFailed:
			if pl != nil {
				pl.abort()
				pl = nil
			}
			c.cleanup(ctx, pg)
			c.Recover(ctx.Err() != nil || pg.IsClosed())
		case StepSQL:
			var err error
			if pl != nil {
				err = pl.send(c, st.Cmd)
			} else {
				err = c.execSQL(ctx, pg, c.tx.si, st.Cmd, obs)
			}
			c.Done(err, pg.TxStatus())
		case StepSleep:
			c.Done(sleep(ctx, st.Sleep), pg.TxStatus())
		case StepPipeline:
			var err error
			pl, err = c.pipelineStep(ctx, pg, st.Cmd, pl, obs)
			c.Done(err, pg.TxStatus())
		}
	}
}

// cleanup leaves the connection idle after a failure: it rolls back an open transaction.
func (c *Client) cleanup(ctx context.Context, pg *pgconn.PgConn) {
	if pg.IsClosed() || ctx.Err() != nil {
		return
	}
	if pg.TxStatus() != 'I' {
		_ = pg.Exec(ctx, "ROLLBACK").Close()
	}
}

func runtimeErr(cmd *Command, msg string) error {
	return &RuntimeError{File: cmd.file, Line: cmd.Line, Msg: msg}
}

// pipelineStep runs \startpipeline, \syncpipeline or \endpipeline on pg; it returns the
// pipeline open after it.
func (c *Client) pipelineStep(ctx context.Context, pg *pgconn.PgConn, cmd *Command, pl *pipeline, obs Observer) (*pipeline, error) {
	switch cmd.Meta {
	case "startpipeline":
		if err := c.preparePipeline(ctx, pg, c.tx.s.Commands, c.tx.pc); err != nil {
			return nil, err
		}
		return &pipeline{ctx: ctx, p: pg.StartPipeline(ctx), si: c.tx.si, obs: obs}, nil
	case "syncpipeline":
		pl.p.SendPipelineSync()
		pl.pending = append(pl.pending, pending{kind: pendSync})
		return pl, nil
	default: // endpipeline
		return nil, pl.finish()
	}
}

// branch evaluates the condition of the \if at pc, then of each \elif after it as long as they
// are false, and returns the index of the first command to run.
func (c *Client) branch(cmds []*Command, pc, si int) (int, error) {
	for {
		cmd := cmds[pc]
		c.ev.script, c.ev.cmd = si, pc+1
		v, err := c.ev.eval(cmd.expr)
		if err != nil {
			return 0, runtimeErr(cmd, "\\"+cmd.Meta+": "+err.Error())
		}
		if v.truth() {
			return pc + 1, nil
		}
		pc = cmd.jump
		if cmds[pc].Meta != "elif" {
			return pc + 1, nil // \else or \endif
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// preparePipeline prepares the statements of the pipeline starting at pc before it starts
// (prepared protocol), so that a failed Parse cannot abort the pipeline.
func (c *Client) preparePipeline(ctx context.Context, pg *pgconn.PgConn, cmds []*Command, pc int) error {
	if c.proto != ProtocolPrepared {
		return nil
	}
	for k := pc + 1; k < len(cmds) && cmds[k].Meta != "endpipeline"; k++ {
		for _, part := range cmds[k].parts {
			if _, err := c.ensurePrepared(ctx, pg, part); err != nil {
				return err
			}
		}
	}
	return nil
}
