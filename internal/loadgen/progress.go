package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// plainEvery is how often a progress line is printed without a terminal: often enough to show a
// CI log is alive, rare enough to keep it readable.
const plainEvery = 5 * time.Second

// Progress prints a run's progress: on a terminal a live line redrawn each second, otherwise a
// plain line every five seconds.
type Progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	label string
	conns func() (used, limit int)
	errs  int64
	since time.Duration
	live  bool
}

// NewProgress writes to w; tty says whether w is a terminal.
func NewProgress(w io.Writer, tty bool) *Progress { return &Progress{w: w, tty: tty} }

// Begin starts a new series; conns, when set, reports the server's connections and their limit.
func (p *Progress) Begin(label string, conns func() (used, limit int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.conns, p.errs, p.since = label, conns, 0, 0
}

// Tick is a Config.OnSecond callback.
func (p *Progress) Tick(t Tick) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs += t.Errors
	if !p.tty && t.Elapsed-p.since < plainEvery && t.Elapsed < t.Total {
		return
	}
	p.since = t.Elapsed
	phase := ""
	if t.Warmup {
		phase = " warm-up"
	}
	p99 := fmt.Sprintf("%7.2f ms", t.P99Ms)
	if t.P99Ms == 0 {
		p99 = fmt.Sprintf("%7s   ", "-") // a source that gives no percentile each second (pgbench)
	}
	line := fmt.Sprintf("%s %3.0fs/%.0fs%s %8d ops/s  p99 %s  errors %d", p.label,
		t.Elapsed.Seconds(), t.Total.Seconds(), phase, t.Ops, p99, p.errs)
	if p.conns != nil {
		if used, limit := p.conns(); limit > 0 {
			line += fmt.Sprintf("  conns %d/%d", used, limit)
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.live = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// End finishes the live line, if any.
func (p *Progress) End() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
}
