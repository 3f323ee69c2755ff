package columnpadding

// What the analyzer predicted against what the server measured: sizes, padding, and sequential
// scans.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/montanaflynn/stats"

	"github.com/pgscale/pgscale/internal/columns"
)

// measure vacuums and analyzes the loaded table, reads its sizes, measures its rows' layout with
// pg_column_size, and asks the analyzer what it predicts.
func (s *scenario) measure(ctx context.Context, conn *pgx.Conn, table string, order []int, m *measurement) (*columns.Analysis, error) {
	qt := pgx.Identifier{table}.Sanitize()
	t0 := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM "+qt); err != nil {
		return nil, fmt.Errorf("column-padding: vacuum %s: %w", table, err)
	}
	m.vacuumMs = float64(time.Since(t0).Microseconds()) / 1000
	if _, err := conn.Exec(ctx, "ANALYZE "+qt); err != nil {
		return nil, fmt.Errorf("column-padding: analyze %s: %w", table, err)
	}
	t, err := inspect(ctx, conn, table)
	if err != nil {
		return nil, fmt.Errorf("column-padding: inspect %s: %w", table, err)
	}
	est := columns.Analyze(t)
	m.heap, m.total, m.toast, m.idx = t.HeapBytes, t.TotalBytes, t.ToastBytes, t.IndexBytes

	// PostgreSQL's own account of the rows: the whole row's size, its header (with the null
	// bitmap when a column is NULL), and its values; what is left is alignment padding.
	var nullable, sizes []string
	for _, i := range order {
		c := s.layout.cols[i]
		id := pgx.Identifier{c.name}.Sanitize()
		sizes = append(sizes, "coalesce(pg_column_size("+id+"), 0)")
		if !c.notNull {
			nullable = append(nullable, id+" IS NULL")
		}
	}
	anyNull := "false"
	if len(nullable) > 0 {
		anyNull = strings.Join(nullable, " OR ")
	}
	withBitmap := (23 + (len(order)+7)/8 + 7) / 8 * 8
	q := fmt.Sprintf(`SELECT avg(pg_column_size(t.*))::float8, avg(CASE WHEN %s THEN %d ELSE 24 END)::float8, avg(%s)::float8 FROM %s t`,
		anyNull, withBitmap, strings.Join(sizes, " + "), qt)
	if err := conn.QueryRow(ctx, q).Scan(&m.tuple, &m.header, &m.data); err != nil {
		return nil, fmt.Errorf("column-padding: measure the rows of %s: %w", table, err)
	}

	return est, nil
}

// scanSettings make the timed scans sequential (on an all-visible table the planner would count
// the primary key's index instead), serial and interpreted, so that every layout is scanned the
// same way.
const scanSettings = "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; " +
	"SET max_parallel_workers_per_gather = 0; SET jit = off"

// scans times count(*) and the aggregate over each table: one untimed round to bring the tables
// into cache, then n rounds, each running every query on every table in turn. It returns the
// median milliseconds of count(*) and of the aggregate, per table.
func (s *scenario) scans(ctx context.Context, conn *pgx.Conn, n int, tables ...string) ([][2]float64, error) {
	if _, err := conn.Exec(ctx, scanSettings); err != nil {
		return nil, fmt.Errorf("column-padding: scan settings: %w", err)
	}
	samples := make([][2][]float64, len(tables))
	for round := 0; round <= n; round++ {
		for i, t := range tables {
			for k, sql := range []string{"SELECT count(*) FROM " + t, "SELECT " + s.agg + " FROM " + t} {
				t0 := time.Now()
				if _, err := conn.Exec(ctx, sql); err != nil {
					return nil, fmt.Errorf("column-padding: %s: %w", sql, err)
				}
				if round > 0 {
					samples[i][k] = append(samples[i][k], float64(time.Since(t0).Microseconds())/1000)
				}
			}
		}
	}
	if _, err := conn.Exec(ctx, "RESET ALL"); err != nil {
		return nil, fmt.Errorf("column-padding: reset scan settings: %w", err)
	}
	out := make([][2]float64, len(tables))
	for i := range samples {
		for k := range samples[i] {
			out[i][k] = median(samples[i][k])
		}
	}
	return out, nil
}

// median is the median of xs (the mean of the middle two for an even count), 0 when there are none.
func median(xs []float64) float64 {
	m, err := stats.Median(xs)
	if err != nil {
		return 0
	}
	return m
}
