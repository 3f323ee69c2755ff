package queue

// Bringing the tables back to the same state before every point.

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// reset brings the tables back to the history alone, then loads the backlog, so that every point
// starts from the same state.
func reset(ctx context.Context, conn *pgx.Conn, c config) error {
	steps := []step{
		{sql: "DELETE FROM task WHERE id > $1", args: []any{c.history}},
		// The DELETE's dead tuples reach the statistics before the VACUUM below reports, not
		// seconds into the point (PostgreSQL 15 flushes a session's counts at most once a second).
		{sql: `DO $$ BEGIN IF current_setting('server_version_num')::int >= 150000 THEN PERFORM pg_stat_force_next_flush(); END IF; END $$`},
		{sql: "TRUNCATE task_queue, done_log RESTART IDENTITY"},
		// Ids continue after the history, so that every job of this point has id > history.
		{sql: "SELECT setval(pg_get_serial_sequence('task', 'id'), greatest($1::bigint, 1), $1::bigint > 0)", args: []any{c.history}},
	}
	if c.producer == producerBacklog {
		steps = append(steps, step{sql: "INSERT INTO task (status, payload) SELECT 'pending', md5(g::text) FROM generate_series(1, $1::int) g",
			args: []any{c.backlog}})
	}
	steps = append(steps, step{sql: "VACUUM (ANALYZE) task"})
	if err := execSteps(ctx, conn, steps); err != nil {
		return fmt.Errorf("queue reset: %w", err)
	}
	return nil
}

// step is one statement of a setup or reset.
type step struct {
	sql  string
	args []any
}

func execSteps(ctx context.Context, conn *pgx.Conn, steps []step) error {
	for _, st := range steps {
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}
