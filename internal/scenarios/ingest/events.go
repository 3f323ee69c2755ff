package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// tableName is the events table, in the connection's search path (the run's schema).
const tableName = "events"

// columns are the events table's columns in the order every write sends them.
var columns = []string{"id", "created_at", "user_id", "kind", "payload"}

// users is how many distinct user ids events are spread over: the article's "a hundred
// thousand monthly actives".
const users = 100_000

// kinds are the event kinds, picked uniformly.
var kinds = []string{"page_view", "click", "scroll", "search", "login", "signup", "share", "purchase"}

const (
	// maxPayload bounds the payload parameter. Payloads are slices of one random pool; past 2 kB
	// PostgreSQL starts compressing and TOASTing values, which is another benchmark.
	maxPayload = 2000
	// payloadPoolBytes is the size of that pool: large enough that consecutive events rarely share
	// a payload, small enough to stay in the CPU cache.
	payloadPoolBytes = 1 << 16
	// payloadAlphabet has no comma, quote or backslash, so the CSV written for psql needs no
	// quoting and both sides of the COPY comparison parse the same bytes.
	payloadAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_./:"
)

// payloadPool is the random text payloads are cut from, the same in every run.
var payloadPool = func() string {
	r := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	b.Grow(payloadPoolBytes)
	for range payloadPoolBytes {
		b.WriteByte(payloadAlphabet[r.IntN(len(payloadAlphabet))])
	}
	return b.String()
}()

// meanKindBytes is the mean length of a kind, for the data volume of an event.
var meanKindBytes = func() float64 {
	n := 0
	for _, k := range kinds {
		n += len(k)
	}
	return float64(n) / float64(len(kinds))
}()

// eventBytes is the data volume of one event: the values of its columns as the application has
// them (8 bytes each for id, time and user id, the kind's and the payload's text). MB/s counts
// these bytes, not what the table or WAL grows by (those have metrics of their own).
func eventBytes(payload int) float64 { return 24 + meanKindBytes + float64(payload) }

// event is one tracked event.
type event struct {
	id      int64
	at      time.Time
	user    int64
	kind    string
	payload string
}

// eventGen makes events. Payloads are cut from payloadPool, so generating an event allocates
// nothing.
type eventGen struct {
	rnd     *rand.Rand
	payload int
	// clock gives an event's time; nil means the current time.
	clock func(id int64) time.Time
}

func (g *eventGen) fill(ev *event, id int64) {
	ev.id = id
	if g.clock != nil {
		ev.at = g.clock(id)
	} else {
		ev.at = time.Now()
	}
	ev.user = 1 + g.rnd.Int64N(users)
	ev.kind = kinds[g.rnd.IntN(len(kinds))]
	off := g.rnd.IntN(len(payloadPool) - g.payload + 1)
	ev.payload = payloadPool[off : off+g.payload]
}

// schemaSQL returns the statements that (re)create the events table: id, time, user, kind and
// payload in alignment order (the three 8-byte columns first), as unlogged when asked, with
// indexes 0 (a bare heap), 1 (primary key on id) or 2 (and (user_id, created_at), the index a
// "what did this user do lately" query needs).
func schemaSQL(unlogged bool, indexes int) []string {
	t := pgx.Identifier{tableName}.Sanitize()
	kind := "TABLE"
	if unlogged {
		kind = "UNLOGGED TABLE"
	}
	stmts := []string{
		"DROP TABLE IF EXISTS " + t,
		fmt.Sprintf(`CREATE %s %s (
  id bigint NOT NULL,
  created_at timestamptz NOT NULL,
  user_id bigint NOT NULL,
  kind text NOT NULL,
  payload text NOT NULL
)`, kind, t),
	}
	if indexes >= 1 {
		stmts = append(stmts, "ALTER TABLE "+t+" ADD PRIMARY KEY (id)")
	}
	if indexes >= 2 {
		stmts = append(stmts, "CREATE INDEX "+pgx.Identifier{tableName + "_user_created_idx"}.Sanitize()+
			" ON "+t+" (user_id, created_at)")
	}
	return stmts
}

func execAll(ctx context.Context, conn *pgx.Conn, stmts []string) error {
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// insertSQL is the single-row INSERT of insert and pipeline.
func insertSQL() string { return multiInsertSQL(1) }

// maxParams is the most bind parameters one statement takes (the protocol counts them in 16 bits).
const maxParams = 65535

// multiInsertSQL is an INSERT … VALUES of n rows, five parameters each.
func multiInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(pgx.Identifier{tableName}.Sanitize())
	b.WriteString(" (")
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{c}.Sanitize())
	}
	b.WriteString(") VALUES ")
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d)", p, p+1, p+2, p+3, p+4)
		p += len(columns)
	}
	return b.String()
}

// copyRow holds one event for pgx's CopyFrom as pointers to types that hand pgx their values
// through its valuer interfaces (pgtype.Int64Valuer, TimestamptzValuer, TextValuer). pgx encodes
// those without reflection or allocation: measured on 2 cores, 210 ns of client CPU a row
// (generation included) against 350 ns and five allocations for plain values and 400 ns for
// pointers to plain values, which pgx dereferences by reflection.
type copyRow struct {
	id, user      int8Value
	at            timestamptzValue
	kind, payload textValue
	vals          []any
}

func newCopyRow() *copyRow {
	r := &copyRow{}
	r.vals = []any{&r.id, &r.at, &r.user, &r.kind, &r.payload}
	return r
}

func (r *copyRow) set(ev *event) {
	r.id, r.at, r.user = int8Value(ev.id), timestamptzValue(ev.at), int8Value(ev.user)
	r.kind, r.payload = textValue(ev.kind), textValue(ev.payload)
}

type int8Value int64

func (v *int8Value) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*v), Valid: true}, nil
}

type timestamptzValue time.Time

func (v *timestamptzValue) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.Time(*v), Valid: true}, nil
}

type textValue string

func (v *textValue) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*v), Valid: true}, nil
}

// genSource is a pgx.CopyFromSource that generates events as pgx asks for them.
type genSource struct {
	gen       *eventGen
	next, end int64 // ids next .. end-1 remain
	ev        event
	row       *copyRow
}

func newGenSource(gen *eventGen) *genSource { return &genSource{gen: gen, row: newCopyRow()} }

func (s *genSource) reset(first int64, n int) { s.next, s.end = first, first+int64(n) }

func (s *genSource) Next() bool {
	if s.next >= s.end {
		return false
	}
	s.gen.fill(&s.ev, s.next)
	s.row.set(&s.ev)
	s.next++
	return true
}

func (s *genSource) Values() ([]any, error) { return s.row.vals, nil }
func (s *genSource) Err() error             { return nil }

// sliceSource is a pgx.CopyFromSource over events already made (the buffered variant's batches).
type sliceSource struct {
	events []event
	i      int
	row    *copyRow
}

func newSliceSource() *sliceSource { return &sliceSource{row: newCopyRow()} }

func (s *sliceSource) reset(events []event) { s.events, s.i = events, 0 }

func (s *sliceSource) Next() bool {
	if s.i >= len(s.events) {
		return false
	}
	s.row.set(&s.events[s.i])
	s.i++
	return true
}

func (s *sliceSource) Values() ([]any, error) { return s.row.vals, nil }
func (s *sliceSource) Err() error             { return nil }

// copyRows is the copy variant's write: one binary COPY of the rows src yields, in one
// transaction. It fails when the server reports another count than want.
func copyRows(ctx context.Context, conn *pgx.Conn, table pgx.Identifier, src pgx.CopyFromSource, want int) error {
	n, err := conn.CopyFrom(ctx, table, columns, src)
	if err != nil {
		return err
	}
	if n != int64(want) {
		return fmt.Errorf("copy wrote %d rows, want %d", n, want)
	}
	return nil
}
