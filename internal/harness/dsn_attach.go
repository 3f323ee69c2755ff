package harness

import (
	"context"
	"fmt"
)

// AttachDSN is DSNProvider.Start for a run whose schema exists already, made and loaded
// beforehand by `pgscale prepare`: it checks that the schema is there instead of creating it.
// The target's Close drops the schema, as for any run on a dsn target.
func AttachDSN(ctx context.Context, spec Spec) (Target, error) {
	d, conn, err := connectDSN(ctx, spec.DSN)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	schema := RunSchema(spec.RunID)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return nil, fmt.Errorf("dsn target: schema %s: %w", schema, err)
	}
	if !exists {
		return nil, fmt.Errorf("dsn target: schema %s of run %s does not exist: run pgscale prepare with the same --run-id first, "+
			"or leave out --skip-setup", schema, spec.RunID)
	}
	pinned, err := PinDSN(spec.DSN, schema)
	if err != nil {
		return nil, fmt.Errorf("dsn target: %w", err)
	}
	if err := CheckPinned(ctx, pinned, schema); err != nil {
		return nil, fmt.Errorf("dsn target: %w", err)
	}
	// The schema is this run's now: clean --dsn judges it by this process from here on.
	if err := markSchema(ctx, conn, spec.RunID, schema, MarkerRunning); err != nil {
		return nil, err
	}
	return &dsnTarget{raw: pinned, dsn: d, schema: schema}, nil
}
