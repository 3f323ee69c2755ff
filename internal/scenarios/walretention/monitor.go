package walretention

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// monitorInterval is how often the WAL and the slot are read: twice a second shows a curve that
// grows by megabytes a second, and each read is one cheap query.
const monitorInterval = 500 * time.Millisecond

// reading is one look at the server's WAL and the run's slot.
type reading struct {
	at time.Time
	// lsnBytes is pg_current_wal_lsn() as a byte position: its growth is the WAL written.
	lsnBytes float64
	// walDirBytes is the size of pg_wal (pg_ls_waldir()); nil when the role may not read it.
	walDirBytes *float64
	// The slot, when it exists: wal_status (reserved, extended, unreserved, lost), the WAL it
	// holds (current LSN − restart_lsn; nil once invalidated) and safe_wal_size (nil without
	// max_slot_wal_keep_size).
	slotFound     bool
	walStatus     string
	retainedBytes *float64
	safeWALBytes  *float64
}

// monitor reads the WAL and the slot until stopped, on a connection of its own.
type monitor struct {
	conn     *pgx.Conn
	slot     string
	noWalDir bool // pg_ls_waldir() was refused: the role lacks pg_monitor

	mu       sync.Mutex
	readings []reading
	errors   int   // readings that failed
	err      error // the last of them
}

// monitorMaxFailures is how many readings in a row may fail (a WAL segment removed while
// pg_ls_waldir() lists it, a busy server) before the monitor gives up.
const monitorMaxFailures = 5

const readingSQL = `SELECT (pg_current_wal_lsn() - '0/0')::float8, %s,
	s.slot_name IS NOT NULL, coalesce(s.wal_status, ''), (pg_current_wal_lsn() - s.restart_lsn)::float8, s.safe_wal_size::float8
	FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`

// read takes one reading now.
func (m *monitor) read(ctx context.Context) (reading, error) {
	walDir := "(SELECT coalesce(sum(size), 0) FROM pg_ls_waldir())::float8"
	if m.noWalDir {
		walDir = "NULL::float8"
	}
	r := reading{at: time.Now()}
	err := m.conn.QueryRow(ctx, fmt.Sprintf(readingSQL, walDir), m.slot).Scan(
		&r.lsnBytes, &r.walDirBytes, &r.slotFound, &r.walStatus, &r.retainedBytes, &r.safeWALBytes)
	var pgErr *pgconn.PgError
	if err != nil && !m.noWalDir && errors.As(err, &pgErr) && pgErr.Code == "42501" {
		m.noWalDir = true // pg_ls_waldir needs superuser or pg_monitor; the LSNs still tell the story
		return m.read(ctx)
	}
	if err != nil {
		return r, fmt.Errorf("read the WAL position and slot: %w", err)
	}
	return r, nil
}

// run reads every monitorInterval until ctx ends, or until monitorMaxFailures readings in a row
// fail, or its connection is lost.
func (m *monitor) run(ctx context.Context) {
	tick := time.NewTicker(monitorInterval)
	defer tick.Stop()
	failures := 0
	for {
		r, err := m.read(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		if err != nil {
			m.errors++
			m.err = err
			failures++
		} else {
			m.readings = append(m.readings, r)
			failures = 0
		}
		m.mu.Unlock()
		if failures >= monitorMaxFailures || m.conn.IsClosed() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// final takes a last reading once the load has stopped, on a context of its own (the run's may be
// canceled): the figures then end where the load did.
func (m *monitor) final(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if m.conn.IsClosed() {
		return
	}
	r, err := m.read(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.readings = append(m.readings, r)
	} else {
		m.errors++
		m.err = err
	}
}

// result returns what the monitor read, how many readings failed, and the last failure.
func (m *monitor) result() ([]reading, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]reading(nil), m.readings...), m.errors, m.err
}
