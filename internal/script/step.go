package script

import (
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// StepKind is what a client's interpreter asks its driver to do next. The interpreter (Begin,
// Next, Done, Recover) runs the meta-commands, the retries and the outcome; a driver runs the SQL:
// Run drives it synchronously over pgconn, Wire over raw protocol messages (the mux engine).
type StepKind uint8

// The steps.
const (
	// StepSQL: run Step.Cmd's SQL, then call Done with its error and the transaction status.
	StepSQL StepKind = iota + 1
	// StepSleep: wait Step.Sleep (a \sleep), then call Done.
	StepSleep
	// StepPipeline: Step.Cmd is \startpipeline, \syncpipeline or \endpipeline; then call Done.
	StepPipeline
	// StepFailed: the try failed with Step.Err. Roll back an open transaction (and leave a
	// pipeline), then call Recover.
	StepFailed
	// StepDone: the transaction ended; Outcome says how.
	StepDone
)

// Step is one request of the interpreter.
type Step struct {
	Kind  StepKind
	Cmd   *Command
	Sleep time.Duration
	Err   error
}

// tx is the transaction the interpreter is running.
type tx struct {
	s        *Script
	si       int
	pc       int
	maxTries int
	out      Outcome
	failed   error // the try's error, until Recover
	inPipe   bool
	txStatus byte // the server's, after the last command: 'I' idle, 'T' in a transaction, 'E' failed
	finished bool
}

// Begin starts one run of script i of m (one transaction in pgbench's sense).
func (c *Client) Begin(m *Mix, i int) {
	c.tx = tx{out: Outcome{Tries: 1}, txStatus: 'I'}
	if i < 0 || i >= len(m.scripts) {
		c.tx.out.Err = errors.New("script index " + strconv.Itoa(i) + " out of range")
		c.tx.out.Fatal, c.tx.finished = true, true
		return
	}
	c.tx.s, c.tx.si, c.tx.maxTries = m.scripts[i], i, max(1, c.opts.MaxTries)
	if c.tx.maxTries > 1 {
		if c.saved == nil {
			c.saved = make(map[string]value, len(c.vars))
		}
		clear(c.saved)
		for k, v := range c.vars {
			c.saved[k] = v
		}
	}
}

// Next runs meta-commands up to the next step the driver must take.
func (c *Client) Next() Step {
	t := &c.tx
	if t.finished {
		return Step{Kind: StepDone}
	}
	if t.failed != nil {
		return Step{Kind: StepFailed, Err: t.failed}
	}
	cmds := t.s.Commands
	for t.pc < len(cmds) {
		cmd := cmds[t.pc]
		switch cmd.Meta {
		case "":
			return Step{Kind: StepSQL, Cmd: cmd}
		case "set":
			c.ev.script, c.ev.cmd = t.si, t.pc+1
			v, err := c.ev.eval(cmd.expr)
			if err != nil {
				return c.fail(runtimeErr(cmd, "\\set "+cmd.name+": "+err.Error()))
			}
			c.vars[cmd.name] = v
			t.pc++
		case "if":
			next, err := c.branch(cmds, t.pc, t.si)
			if err != nil {
				return c.fail(err)
			}
			t.pc = next
		case "elif", "else":
			t.pc = cmd.end + 1 // the branch before it ran: skip to \endif
		case "endif":
			t.pc++
		case "sleep":
			d, err := c.sleepFor(cmd)
			if err != nil {
				return c.fail(err)
			}
			if d <= 0 {
				t.pc++
				continue
			}
			return Step{Kind: StepSleep, Cmd: cmd, Sleep: d}
		case "startpipeline":
			if t.inPipe {
				return c.fail(runtimeErr(cmd, "\\startpipeline inside a pipeline"))
			}
			if c.proto == ProtocolSimple {
				return c.fail(runtimeErr(cmd, "\\startpipeline needs the extended or prepared protocol (not simple)"))
			}
			t.inPipe = true
			return Step{Kind: StepPipeline, Cmd: cmd}
		case "syncpipeline", "endpipeline":
			if !t.inPipe {
				return c.fail(runtimeErr(cmd, "\\"+cmd.Meta+" outside a pipeline"))
			}
			t.inPipe = cmd.Meta == "syncpipeline"
			return Step{Kind: StepPipeline, Cmd: cmd}
		default:
			return c.fail(runtimeErr(cmd, "unknown meta-command \\"+cmd.Meta))
		}
	}
	if t.inPipe {
		return c.fail(runtimeErr(cmds[len(cmds)-1], "end of script reached inside a pipeline (\\endpipeline was skipped)"))
	}
	if t.txStatus != 'I' {
		return c.fail(runtimeErr(cmds[len(cmds)-1], "end of script reached with a transaction still open (the script must commit or roll back what it begins)"))
	}
	t.finished = true
	return Step{Kind: StepDone}
}

// Done reports the end of the step Next asked for (StepSQL, StepSleep, StepPipeline): err is its
// error (nil on success) and txStatus the server's transaction status after it.
func (c *Client) Done(err error, txStatus byte) {
	c.tx.txStatus = txStatus
	if err != nil {
		c.tx.failed = err
		return
	}
	c.tx.pc++
}

// Recover follows a StepFailed once the driver has rolled back: it retries a serialization
// failure or deadlock that has tries left, unless stopped (the run ended or the connection
// broke), and otherwise ends the transaction with the error.
func (c *Client) Recover(stopped bool) {
	t := &c.tx
	err := t.failed
	t.failed, t.inPipe, t.txStatus = nil, false, 'I'
	code := ""
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code = pgErr.Code
	}
	retryable := code == sqlstateSerialization || code == sqlstateDeadlock
	if retryable && t.out.Tries < t.maxTries && !stopped {
		if t.out.Retries == nil {
			t.out.Retries = map[string]int{}
		}
		t.out.Retries[code]++
		t.out.Tries++
		t.pc = 0
		clear(c.vars)
		for k, v := range c.saved {
			c.vars[k] = v
		}
		return
	}
	t.out.Err = err
	t.out.Fatal = stopped || !retryable && !c.opts.ContinueOnError
	t.finished = true
}

// Outcome is how the transaction ended, once Next has returned StepDone.
func (c *Client) Outcome() Outcome { return c.tx.out }

// ScriptIndex is the index in its mix of the script the client runs.
func (c *Client) ScriptIndex() int { return c.tx.si }

// TxStatus is the server's transaction status after the last step ('I' when idle).
func (c *Client) TxStatus() byte { return c.tx.txStatus }

func (c *Client) fail(err error) Step {
	c.tx.failed = err
	return Step{Kind: StepFailed, Err: err}
}

// sleepFor is how long the \sleep cmd waits.
func (c *Client) sleepFor(cmd *Command) (time.Duration, error) {
	n := cmd.sleepN
	if cmd.sleepV != "" {
		v, ok := c.vars[cmd.sleepV]
		if !ok {
			return 0, runtimeErr(cmd, "\\sleep: undefined variable \""+cmd.sleepV+"\"")
		}
		v, err := v.typed(cmd.sleepV)
		if err == nil && v.k != kInt {
			err = errors.New("variable \"" + cmd.sleepV + "\" is " + kindName(v.k) + ", not an integer")
		}
		if err != nil {
			return 0, runtimeErr(cmd, "\\sleep: "+err.Error())
		}
		n = v.i
	}
	if n <= 0 {
		return 0, nil
	}
	d := time.Duration(n) * cmd.sleep
	if d/cmd.sleep != time.Duration(n) {
		return 0, runtimeErr(cmd, "\\sleep: "+strconv.FormatInt(n, 10)+" is too long")
	}
	return d, nil
}

// UsesPipeline tells whether the script has \startpipeline.
func (s *Script) UsesPipeline() bool { return s.pipeline }
