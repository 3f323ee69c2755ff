package harnesstest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// TestSharedServerIsolatesAndCleansUp: the server is started once; a test's schema and database
// exist while it runs and are gone when it ends.
func TestSharedServerIsolatesAndCleansUp(t *testing.T) {
	if a, b := Server(t), Server(t); a != b {
		t.Fatal("Server started a second server")
	}
	conn, err := pgx.Connect(context.Background(), DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exists := func(query, name string) bool {
		t.Helper()
		var ok bool
		if err := conn.QueryRow(context.Background(), query, name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	const schemaQuery = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)"
	const dbQuery = "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)"
	var schema, db string
	t.Run("inner", func(t *testing.T) {
		schema = Schema(t).Schema()
		if !exists(schemaQuery, schema) {
			t.Fatalf("schema %s does not exist during the test", schema)
		}
		inner, err := pgx.Connect(context.Background(), Database(t))
		if err != nil {
			t.Fatal(err)
		}
		defer inner.Close(context.Background())
		if err := inner.QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if db == "postgres" || !exists(dbQuery, db) {
			t.Fatalf("database %q: want one of the test's own", db)
		}
	})
	if exists(schemaQuery, schema) || exists(dbQuery, db) {
		t.Errorf("after the test: schema %s or database %s is still there", schema, db)
	}
}
