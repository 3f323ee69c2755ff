package harness

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// dsnSlot is a replication slot named like a run's schema (pgscale_<run>): scenarios that leave
// a slot unattended on purpose (wal-retention) name it so. A slot left by a killed run holds WAL
// until the disk is full, so clean --dsn drops it with its run.
type dsnSlot struct {
	name     string
	database string // a logical slot's database; "" for a physical slot
	active   bool
}

// findDSNSlots lists the replication slots named pgscale_*.
func findDSNSlots(ctx context.Context, conn *pgx.Conn) ([]dsnSlot, error) {
	rows, err := conn.Query(ctx, `SELECT slot_name, coalesce(database, ''), active FROM pg_replication_slots
		WHERE slot_name LIKE 'pgscale\_%' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("clean --dsn: list replication slots: %w", err)
	}
	slots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dsnSlot, error) {
		var s dsnSlot
		return s, r.Scan(&s.name, &s.database, &s.active)
	})
	if err != nil {
		return nil, fmt.Errorf("clean --dsn: list replication slots: %w", err)
	}
	return slots, nil
}

// attachDSNSlots gives each run the slots named after its schema. A slot whose run's schema is
// gone from this database belongs to a run that ended (the runner drops the slot before it
// drops the schema, so the drop failed): an inactive logical slot of this database is returned
// as an orphan to drop. Slots of other databases, and physical slots with no run here (their
// run may have worked in another database), are kept and listed.
func attachDSNSlots(slots []dsnSlot, bySchema map[string]*dsnRun, db string) (orphans []dsnSlot, kept []string) {
	for _, s := range slots {
		if s.database != "" && s.database != db {
			kept = append(kept, fmt.Sprintf("replication slot %s: a logical slot of database %s; clean with a DSN of that database", s.name, s.database))
			continue
		}
		if run := bySchema[s.name]; run != nil {
			run.slots = append(run.slots, s.name)
			continue
		}
		switch {
		case s.active:
			kept = append(kept, fmt.Sprintf("replication slot %s: no run schema of that name, and a session reads it", s.name))
		case s.database == "":
			kept = append(kept, fmt.Sprintf("replication slot %s: a physical slot with no run schema of that name here (its run may have worked in another database); "+
				"if it is pgscale's, drop it with SELECT pg_drop_replication_slot('%s')", s.name, s.name))
		default:
			orphans = append(orphans, s)
		}
	}
	return orphans, kept
}

// dropDSNSlot drops one slot (it fails while a session reads it).
func dropDSNSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", name)
	if err != nil {
		return fmt.Errorf("drop replication slot %s: %w", name, err)
	}
	return nil
}

// reapOrphanSlots drops the inactive slots of runs whose schema is gone.
func reapOrphanSlots(ctx context.Context, w io.Writer, conn *pgx.Conn, orphans []dsnSlot, dryRun bool) (CleanReport, error) {
	var report CleanReport
	const reason = "no run schema of that name is left in this database, and no session reads it"
	var errs []error
	for _, s := range orphans {
		if !dryRun {
			if err := dropDSNSlot(ctx, conn, s.name); err != nil {
				errs = append(errs, fmt.Errorf("clean --dsn: %w", err))
				continue
			}
		}
		report.Removed = append(report.Removed, CleanItem{Kind: "dsn replication slot", Name: "replication slot " + s.name, Reason: reason})
		fmt.Fprintf(w, "%s replication slot %s (%s)\n", cleanVerb(dryRun, "dropped", "drop"), s.name, reason)
	}
	return report, errors.Join(errs...)
}

// dsnSlotsOf lists the pgscale_* slots, gives each run its own, and returns the orphans to drop
// and the slots kept.
func dsnSlotsOf(ctx context.Context, conn *pgx.Conn, runs []*dsnRun) (orphans []dsnSlot, kept []string, err error) {
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return nil, nil, fmt.Errorf("clean --dsn: %w", err)
	}
	slots, err := findDSNSlots(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	bySchema := map[string]*dsnRun{}
	for _, run := range runs {
		bySchema[run.marker.Schema] = run
	}
	orphans, kept = attachDSNSlots(slots, bySchema, db)
	return orphans, kept, nil
}
