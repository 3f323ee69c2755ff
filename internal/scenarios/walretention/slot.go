package walretention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// Slot kinds (--set slot=…).
const (
	slotLogical  = "logical"
	slotPhysical = "physical"
)

// slotDropTimeout bounds dropping the slot on the way out, Ctrl-C included: a drop takes
// milliseconds, and 15 s leaves room for a loaded server without hanging the exit.
const slotDropTimeout = 15 * time.Second

// slotName is the run's replication slot: named after the run's schema on a dsn target
// (pgscale_<run>), so that `pgscale clean --dsn` finds a slot a killed run left behind; a server
// pgscale started is the run's own, and its slot a fixed name.
func slotName(schema string) string {
	if schema == "" || schema == "public" {
		return "pgscale_wal_retention"
	}
	return schema
}

// createSlot creates the inactive slot that holds WAL: a logical slot with the built-in pgoutput
// plugin (as a forgotten logical replication subscriber or CDC connector leaves), or a physical
// slot that reserves WAL at once (a replica that went away). A slot of the same name, left by an
// earlier point of this run, is dropped first.
func createSlot(ctx context.Context, conn *pgx.Conn, name, kind string) error {
	if err := dropSlot(ctx, conn, name); err != nil {
		return err
	}
	var err error
	if kind == slotPhysical {
		_, err = conn.Exec(ctx, "SELECT pg_create_physical_replication_slot($1, true)", name)
	} else {
		_, err = conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", name)
	}
	if err != nil {
		return fmt.Errorf("create %s replication slot %s: %w", kind, name, err)
	}
	return nil
}

// dropSlot drops the slot if it exists.
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", name)
	if err != nil {
		return fmt.Errorf("drop replication slot %s: %w", name, err)
	}
	return nil
}

// dropSlotOnExit drops the slot on a connection of its own, with a context that outlives the
// run's (a Ctrl-C cancels that one): a slot left behind keeps holding WAL until the disk is full,
// which is the incident this scenario replays. It tries twice, in case the first connection was
// caught by a restart or a terminated backend.
func dropSlotOnExit(ctx context.Context, env *scenarios.Env, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slotDropTimeout)
	defer cancel()
	var errs []error
	for attempt := 0; attempt < 2; attempt++ {
		conn, err := env.AdminConn(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = dropSlot(ctx, conn, name)
		conn.Close(context.Background())
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("wal-retention: the replication slot %s may be left on the server (drop it with SELECT pg_drop_replication_slot('%s'), "+
		"or run pgscale clean --dsn): %w", name, name, errors.Join(errs...))
}
