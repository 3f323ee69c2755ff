package columnpadding

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/columns"
)

// userTables lists the ordinary and partitioned tables outside the system schemas.
const userTables = `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
	AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'`

// ddlLayout runs the user's DDL file on the target (in the run's schema when the statements do
// not name one) and makes a layout of the one table it creates: its columns as written, its
// primary key, and a generator for each column's type.
func ddlLayout(ctx context.Context, conn *pgx.Conn, path string) (layout, error) {
	ddl, err := os.ReadFile(path)
	if err != nil {
		return layout{}, fmt.Errorf("read %s: %w", path, err)
	}
	before, err := oids(ctx, conn)
	if err != nil {
		return layout{}, err
	}
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		return layout{}, fmt.Errorf("run %s: %w", path, err)
	}
	after, err := oids(ctx, conn)
	if err != nil {
		return layout{}, err
	}
	var created []uint32
	for _, o := range after {
		if !slices.Contains(before, o) {
			created = append(created, o)
		}
	}
	if len(created) != 1 {
		return layout{}, fmt.Errorf("%s created %d tables; the scenario tests one table: give a file with one CREATE TABLE", path, len(created))
	}
	t, err := columns.Inspect(ctx, conn, created[0])
	if err != nil {
		return layout{}, fmt.Errorf("%w", err)
	}
	pk, err := strs(ctx, conn, `SELECT a.attname::text FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`, created[0])
	if err != nil {
		return layout{}, fmt.Errorf("primary key of %s: %w", t.Display(), err)
	}
	enums := map[uint32][]string{}
	rows, err := conn.Query(ctx, `SELECT enumtypid, array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum GROUP BY 1`)
	if err != nil {
		return layout{}, fmt.Errorf("enum labels: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var labels []string
		if err := rows.Scan(&oid, &labels); err != nil {
			rows.Close()
			return layout{}, fmt.Errorf("enum labels: %w", err)
		}
		enums[oid] = labels
	}
	if err := rows.Err(); err != nil {
		return layout{}, fmt.Errorf("enum labels: %w", err)
	}
	// A domain's values are its base type's.
	base := map[uint32]string{}
	rows, err = conn.Query(ctx, `SELECT t.oid, b.typname::text FROM pg_type t JOIN pg_type b ON b.oid = t.typbasetype WHERE t.typtype = 'd'`)
	if err != nil {
		return layout{}, fmt.Errorf("domains: %w", err)
	}
	for rows.Next() {
		var oid uint32
		var name string
		if err := rows.Scan(&oid, &name); err != nil {
			rows.Close()
			return layout{}, fmt.Errorf("domains: %w", err)
		}
		base[oid] = name
	}
	if err := rows.Err(); err != nil {
		return layout{}, fmt.Errorf("domains: %w", err)
	}
	l := layout{pk: pk, source: fmt.Sprintf("table %s of %s: %d columns", t.Display(), path, len(t.Live()))}
	var problems []string
	for _, c := range t.Live() {
		if b, ok := base[c.TypOID]; ok {
			c.TypeName = b
		}
		cl, err := colFromCatalog(c, slices.Contains(pk, c.Name), enums)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		l.cols = append(l.cols, cl)
	}
	if len(problems) > 0 {
		return layout{}, fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	return l, nil
}

func oids(ctx context.Context, conn *pgx.Conn) ([]uint32, error) {
	rows, err := conn.Query(ctx, userTables)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

func strs(ctx context.Context, conn *pgx.Conn, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
