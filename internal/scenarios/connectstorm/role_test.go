package connectstorm

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness/harnesstest"
)

// TestRoleDroppedAfterAdminBroke: the application role is dropped at the point's end even when
// the admin connection it was created over has closed (a Ctrl-C cancels that connection's query
// in flight, and pgx closes it), so a canceled run leaves no role behind; dropping a role that is
// gone already is no error.
func TestRoleDroppedAfterAdminBroke(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	tg := harnesstest.Local(t)
	ctx := context.Background()
	cc, err := pgx.ParseConfig(tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE TABLE "+table+" (id int)"); err != nil {
		t.Fatal(err)
	}
	role, err := createRole(ctx, admin, cc, tg.Schema())
	if err != nil {
		t.Fatal(err)
	}
	_ = admin.Close(ctx)
	drop := role.drop(admin, cc)
	if err := drop(ctx); err != nil {
		t.Fatalf("drop over a closed admin connection: %v", err)
	}
	check, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close(ctx)
	var left bool
	if err := check.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role.name).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left {
		t.Errorf("role %s is still there", role.name)
	}
	if err := role.drop(check, cc)(ctx); err != nil {
		t.Errorf("dropping a role already gone: %v", err)
	}
}
