package columns

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what reading the catalog needs: a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Table is what the catalog says about one table.
type Table struct {
	OID    uint32
	Schema string
	Name   string
	// Kind is relkind: r (table), p (partitioned table: sizes and rows are its partitions'),
	// m (materialized view).
	Kind string
	// RelTuples is pg_class.reltuples: PostgreSQL's estimate of the rows, -1 when the table was
	// never vacuumed or analyzed.
	RelTuples  float64
	HeapBytes  int64 // pg_relation_size (main fork)
	ToastBytes int64 // the TOAST table and its index
	IndexBytes int64
	TotalBytes int64 // pg_total_relation_size
	Page       Page
	// Columns are every attribute in attnum order, dropped ones included.
	Columns []Column
	// Constraints are "CONSTRAINT name definition" clauses (pg_get_constraintdef); index-backed
	// ones (primary key, unique, exclusion) without their name, which is taken in the schema.
	Constraints []string
	// Indexes are the definitions of indexes that back no constraint (pg_get_indexdef).
	Indexes []string
	// CanSelect is has_table_privilege(SELECT): without it pg_stats hides the statistics.
	CanSelect bool
	// PartitionKey is pg_get_partkeydef of a partitioned table ("RANGE (k)").
	PartitionKey string
	// quotedName is schema.name as pg_get_indexdef writes it (quote_ident, not always quoted).
	quotedName string
}

// Qualified is schema.name, quoted as SQL needs.
func (t *Table) Qualified() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// Display is schema.name for people.
func (t *Table) Display() string { return t.Schema + "." + t.Name }

// Live returns the columns that are not dropped, in attnum order.
func (t *Table) Live() []Column {
	var out []Column
	for _, c := range t.Columns {
		if !c.Dropped {
			out = append(out, c)
		}
	}
	return out
}

// Dropped counts the dropped columns.
func (t *Table) Dropped() int { return len(t.Columns) - len(t.Live()) }

// HasStats says whether any column has statistics.
func (t *Table) HasStats() bool {
	for _, c := range t.Columns {
		if c.HasStats {
			return true
		}
	}
	return false
}

// Selection says which tables to analyze: a table (schema-qualified or found on the search
// path), every table of a schema, or with neither every table outside the system schemas.
type Selection struct {
	Schema string
	Table  string
}

// systemSchemas is the condition on pg_namespace n that leaves out PostgreSQL's own schemas.
const systemSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

// Lookup resolves a selection into table OIDs. A table or schema that does not exist is a usage
// error naming it (with the closest existing name, when one is close).
func Lookup(ctx context.Context, q Querier, sel Selection) ([]uint32, error) {
	if sel.Schema != "" {
		var exists bool
		if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", sel.Schema).Scan(&exists); err != nil {
			return nil, fmt.Errorf("columns: look up schema %s: %w", sel.Schema, err)
		}
		if !exists {
			names, _ := queryStrings(ctx, q, "SELECT nspname FROM pg_namespace n WHERE "+systemSchemas)
			return nil, usage.Fieldf("schema", "%s: schema %q does not exist%s", sel.Schema, sel.Schema, suggest.DidYouMean(sel.Schema, names))
		}
	}
	switch {
	case sel.Table != "" && sel.Schema != "":
		var oid uint32
		err := q.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2`, sel.Schema, sel.Table).Scan(&oid)
		if errors.Is(err, pgx.ErrNoRows) {
			names, _ := queryStrings(ctx, q, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')`, sel.Schema)
			return nil, usage.Fieldf("table", "%s: table %q does not exist in schema %q%s", sel.Table, sel.Table, sel.Schema, suggest.DidYouMean(sel.Table, names))
		}
		if err != nil {
			return nil, fmt.Errorf("columns: look up table %s.%s: %w", sel.Schema, sel.Table, err)
		}
		return []uint32{oid}, checkKind(ctx, q, oid, sel.Table)
	case sel.Table != "":
		var oid *uint32
		err := q.QueryRow(ctx, "SELECT to_regclass($1)::oid", sel.Table).Scan(&oid)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return nil, usage.Fieldf("table", "%s: not a table name: %s", sel.Table, pgErr.Message)
		}
		if err != nil {
			return nil, fmt.Errorf("columns: look up table %s: %w", sel.Table, err)
		}
		if oid == nil {
			var path string
			_ = q.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path)
			names, _ := queryStrings(ctx, q, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE c.relkind IN ('r', 'p', 'm') AND `+systemSchemas)
			return nil, usage.Fieldf("table", "%s: table %q does not exist (looked for on search_path %s; qualify it as schema.table)%s",
				sel.Table, sel.Table, path, suggest.DidYouMean(sel.Table, names))
		}
		return []uint32{*oid}, checkKind(ctx, q, *oid, sel.Table)
	default:
		sql := `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition AND `
		args := []any{}
		if sel.Schema != "" {
			sql += "n.nspname = $1"
			args = append(args, sel.Schema)
		} else {
			sql += systemSchemas
		}
		rows, err := q.Query(ctx, sql+" ORDER BY n.nspname, c.relname", args...)
		if err != nil {
			return nil, fmt.Errorf("columns: list tables: %w", err)
		}
		oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
		if err != nil {
			return nil, fmt.Errorf("columns: list tables: %w", err)
		}
		return oids, nil
	}
}

// checkKind makes sure oid is a table (or a materialized view).
func checkKind(ctx context.Context, q Querier, oid uint32, name string) error {
	var kind string
	if err := q.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE oid = $1", oid).Scan(&kind); err != nil {
		return fmt.Errorf("columns: look up %s: %w", name, err)
	}
	what := map[string]string{"v": "a view", "i": "an index", "S": "a sequence", "c": "a composite type",
		"f": "a foreign table", "I": "a partitioned index", "t": "a TOAST table"}
	if w, ok := what[kind]; ok {
		return usage.Fieldf("table", "%s: %s is %s, not a table: it stores no rows of its own", name, name, w)
	}
	return nil
}

// Inspect reads a table's columns (pg_attribute, pg_type, pg_attrdef), their statistics
// (pg_stats: null_frac, avg_width), sizes, constraints and indexes.
func Inspect(ctx context.Context, q Querier, oid uint32) (*Table, error) {
	t := &Table{OID: oid}
	err := q.QueryRow(ctx, `SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname), c.relkind::text, c.reltuples::float8,
			has_table_privilege(c.oid, 'SELECT'),
			coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor'), 100),
			current_setting('block_size')::int,
			CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, oid).
		Scan(&t.Schema, &t.Name, &t.quotedName, &t.Kind, &t.RelTuples, &t.CanSelect, &t.Page.Fillfactor, &t.Page.BlockSize, &t.PartitionKey)
	if err != nil {
		return nil, fmt.Errorf("columns: read table %d: %w", oid, err)
	}
	if err := t.readSizes(ctx, q); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT a.attnum, a.attname, a.attisdropped, a.attlen, a.attalign::text, a.attstorage::text,
			a.attnotnull, coalesce(format_type(a.atttypid, a.atttypmod), ''), coalesce(ty.typname::text, ''), a.atttypmod,
			coalesce(ty.typtype::text, ''), a.atttypid,
			s.null_frac::float8, s.avg_width::float8,
			coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated::text, a.attidentity::text,
			coalesce((SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
				JOIN pg_namespace cn ON cn.oid = co.collnamespace
				WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation), ''),
			coalesce((SELECT format('%I.%I', sn.nspname, sq.relname) FROM pg_depend dep
				JOIN pg_class sq ON sq.oid = dep.objid AND sq.relkind = 'S'
				JOIN pg_namespace sn ON sn.oid = sq.relnamespace
				WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
					AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype IN ('a', 'i')
				LIMIT 1), '')
		FROM pg_attribute a
		LEFT JOIN pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 AND s.attname = a.attname
			AND s.inherited = $4 AND NOT a.attisdropped
		WHERE a.attrelid = $1 AND a.attnum > 0
		ORDER BY a.attnum`, oid, t.Schema, t.Name, t.Kind == "p")
	if err != nil {
		return nil, fmt.Errorf("columns: read columns of %s: %w", t.Display(), err)
	}
	for rows.Next() {
		var (
			c             Column
			align         string
			nullFrac, avg *float64
			num           int16
			attlen        int16
			typmod        int32
		)
		if err := rows.Scan(&num, &c.Name, &c.Dropped, &attlen, &align, &c.Storage, &c.NotNull, &c.Type, &c.TypeName,
			&typmod, &c.TypType, &c.TypOID, &nullFrac, &avg, &c.Default, &c.Generated, &c.Identity, &c.Collation, &c.Sequence); err != nil {
			rows.Close()
			return nil, fmt.Errorf("columns: read columns of %s: %w", t.Display(), err)
		}
		c.Num, c.Len, c.TypMod = int(num), int(attlen), int(typmod)
		c.Align = alignBytes(align)
		if nullFrac != nil && avg != nil {
			c.NullFrac, c.AvgWidth, c.HasStats = *nullFrac, *avg, true
		}
		if c.Dropped {
			c.Name, c.Type = fmt.Sprintf("(dropped column %d)", c.Num), ""
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns: read columns of %s: %w", t.Display(), err)
	}
	if t.Constraints, err = queryStrings(ctx, q, `SELECT CASE WHEN contype IN ('p', 'u', 'x') THEN ''
				ELSE 'CONSTRAINT ' || quote_ident(conname) || ' ' END || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'x', 'c', 'f')
		ORDER BY contype <> 'p', contype, conname`, oid); err != nil {
		return nil, fmt.Errorf("columns: read constraints of %s: %w", t.Display(), err)
	}
	if t.Indexes, err = queryStrings(ctx, q, `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
		ORDER BY 1`, oid); err != nil {
		return nil, fmt.Errorf("columns: read indexes of %s: %w", t.Display(), err)
	}
	return t, nil
}

// readSizes reads the table's sizes; a partitioned table has none of its own, so its leaf
// partitions' are summed (rows too).
func (t *Table) readSizes(ctx context.Context, q Querier) error {
	sql := `SELECT pg_relation_size(c.oid), pg_total_relation_size(c.oid), pg_indexes_size(c.oid),
			CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END, c.reltuples::float8
		FROM pg_class c WHERE c.oid = $1`
	if t.Kind == "p" {
		sql = `SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::int8, coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8,
				coalesce(sum(pg_indexes_size(c.oid)), 0)::int8,
				coalesce(sum(CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END), 0)::int8,
				coalesce(sum(greatest(c.reltuples, 0)), -1)::float8
			FROM pg_partition_tree($1) p JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf`
	}
	if err := q.QueryRow(ctx, sql, t.OID).Scan(&t.HeapBytes, &t.TotalBytes, &t.IndexBytes, &t.ToastBytes, &t.RelTuples); err != nil {
		return fmt.Errorf("columns: read the size of %s: %w", t.Display(), err)
	}
	return nil
}

func alignBytes(a string) int {
	switch a {
	case "s":
		return 2
	case "i":
		return 4
	case "d":
		return 8
	}
	return 1
}

func queryStrings(ctx context.Context, q Querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
