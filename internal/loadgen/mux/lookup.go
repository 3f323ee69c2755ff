package mux

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/internal/pgwire"
)

// lookup is the session of Config.SQL: a closed loop of prepared lookups of random keys, each
// recorded as one operation (one row is a success).
type lookup struct {
	id      int
	rec     *loadgen.Recorder
	rng     *rand.Rand
	keys    int32
	req     *lookupRequest // prepared, or
	query   *queryRequest  // the simple protocol (Config.Simple)
	started time.Time
	rows    int
	err     error // the ErrorResponse of the lookup in flight
}

func newLookup(cfg Config, id int, rec *loadgen.Recorder) (*lookup, error) {
	l := &lookup{id: id, rec: rec, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(id))), keys: cfg.Keys}
	var err error
	switch {
	case cfg.Simple:
		l.query, err = newQueryRequest(cfg.SQL)
	case cfg.PerOp:
		l.req, err = newLookupRequest(cfg.SQL)
	default:
		l.req, err = newLookupRequest("")
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lookup) Next(buf []byte, now time.Time, ending bool) ([]byte, time.Time) {
	if ending {
		return buf, time.Time{}
	}
	key := l.rng.Int32N(l.keys) + 1
	l.started, l.rows, l.err = now, 0, nil
	if l.query != nil {
		return l.query.append(buf, key), time.Time{}
	}
	l.req.setKey(key)
	return append(buf, l.req.bytes...), time.Time{}
}

func (l *lookup) Receive(typ byte, body []byte, now time.Time) bool {
	switch typ {
	case msgDataRow:
		l.rows++
	case msgError:
		l.err = pgwire.ParseError(body)
	case msgReadyForQuery:
		err := l.err
		if err == nil && l.rows != 1 {
			err = fmt.Errorf("mux: lookup returned %d rows, want 1", l.rows)
		}
		d := now.Sub(l.started)
		l.rec.Record(l.id, l.started, d, d, err)
		return true
	}
	return false
}

// Resumes is true: the lookups go on over a new connection when theirs breaks, as a worker of
// loadgen's per-worker mode does.
func (l *lookup) Resumes() bool { return true }

func (l *lookup) Abandon(err error, now time.Time) {
	if err == nil {
		l.rec.RecordAbandoned(l.id)
		return
	}
	if l.err != nil {
		err = l.err // the server's reason, such as 57P01 before it closed the connection
	}
	d := now.Sub(l.started)
	l.rec.Record(l.id, l.started, d, d, err)
}
