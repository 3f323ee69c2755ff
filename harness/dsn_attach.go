package harness

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AttachDSN is DSNProvider.Start for a run whose schema exists already, made and loaded
// beforehand by `pgscale prepare`: it checks that the schema is there instead of creating it.
// The target's Close drops the schema, as for any run on a dsn target.
func AttachDSN(ctx context.Context, spec Spec) (Target, error) {
	cfg, err := ParseDSN(spec.DSN)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, DSNConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dsn target %s: %s", RedactDSN(spec.DSN), RedactDSN(err.Error()))
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
	return &dsnTarget{dsn: spec.DSN, schema: schema}, nil
}
