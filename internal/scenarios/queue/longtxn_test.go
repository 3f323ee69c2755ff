package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/harness/harnesstest"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// TestLongTransactionHoldsBackVacuum is the article's warning, side by side in one run: with a
// snapshot held, vacuum removes none of the dead rows the queue leaves (n_dead_tup keeps up with
// the jobs done, autovacuum running all the while); without one, autovacuum keeps them a fraction
// of that; with idle_in_transaction_session_timeout the server ends the holder, and the dead
// tuples come down. It asserts on dead tuples, not on jobs/s, which the shared machine blurs.
// It starts servers of its own: the scenario sets autovacuum_naptime, which a dsn target keeps.
func TestLongTransactionHoldsBackVacuum(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	// The workers are paced by 10 ms of work a job, not a closed loop: 10 of them do ~700 jobs/s
	// on a quiet machine, a few thousand dead rows a second, past the eager threshold of 1,000
	// within each autovacuum naptime, at a fraction of a closed loop's CPU, and the backlog of
	// 30,000 outlasts the points. In a closed loop (~3,000 jobs/s and a backlog of 100,000 to
	// vacuum beside) autovacuum fell behind even on a quiet machine: 0.84 dead tuples per job
	// without a long transaction, and 17,247 dead at the release came down to 9,330 at best in
	// the 9 s after it (12 s points). Paced, 8 s points gave 0.15, and 6,141 dead at the release
	// 3 s in down to 0.
	const pointDuration = 8 * time.Second
	whole := (pointDuration + time.Second).Seconds()
	queueDead := tableMetric(MetricPrefixQueue, MetricDeadTuples)
	perJob := func(m map[string]float64) float64 { return m[queueDead] / max(m[MetricJobsDone], 1) }
	var byPoint map[[2]float64]result.Series
	var none, held, fixed map[string]float64
	// Autovacuum keeping up without a held snapshot, and catching up after the release, need CPU
	// that a starved machine may not give within a point: when only those two fall short, the
	// run goes again once. The held snapshot's checks do not depend on CPU.
	for attempt := 1; ; attempt++ {
		series := runOn(t, runner.Options{Target: harness.KindLocal}, map[string]string{
			"variants": VariantDedicated, "workers": "10", "work": "10ms", "history": "10000", "backlog": "30000",
			"long_txn": "0,1h", "idle_in_transaction_timeout": "0,3s",
		}, nil, pointDuration, time.Second)
		if len(series) != 3 {
			t.Fatalf("%d series, want 3 (no long transaction; held; held with the idle timeout)", len(series))
		}
		byPoint = map[[2]float64]result.Series{}
		for _, s := range series {
			checkExactlyOnce(t, s)
			byPoint[[2]float64{s.Point[pointLongTxn].(float64), s.Point[pointIdleTimeout].(float64)}] = s
		}
		none, held, fixed = byPoint[[2]float64{0, 0}].Metrics, byPoint[[2]float64{3600, 0}].Metrics, byPoint[[2]float64{3600, 3}].Metrics
		if none == nil || held == nil || fixed == nil {
			t.Fatalf("points %v, want long_txn_s 0, 3600 and 3600 with a 3 s timeout", byPoint)
		}
		at, least := fixed[MetricDeadTuplesAtRelease], fixed[MetricDeadTuplesLeastAfterRelease]
		if attempt == 2 || (perJob(none) < 1 && at > 0 && least <= at/2) {
			break
		}
		t.Logf("attempt %d: autovacuum fell behind (%.2f dead tuples per job without a long transaction; %v dead at the release, least %v after); running again",
			attempt, perJob(none), at, least)
	}
	t.Logf("queue dead tuples per job done: none %.2f (%v dead, %v jobs), held %.2f (%v dead, %v jobs, %v autovacuum runs while held); "+
		"fixed: released at %.1f s, dead %v then %v",
		perJob(none), none[queueDead], none[MetricJobsDone], perJob(held), held[queueDead], held[MetricJobsDone],
		held[MetricAutovacuumRunsWhileHeld], fixed[MetricXminReleasedAtS], fixed[MetricDeadTuplesAtRelease], fixed[MetricDeadTuplesLeastAfterRelease])

	// Each job leaves two dead versions in the queue table (its claim's update, its delete).
	// Held: vacuum removed none of them. Without: it removed most.
	if perJob(held) < 1.5 {
		t.Errorf("held: %.2f dead queue tuples per job done, want at least 1.5 (vacuum removing nothing)", perJob(held))
	}
	if perJob(none) >= 1 {
		t.Errorf("no long transaction: %.2f dead queue tuples per job done, want under 1 (autovacuum removing them)", perJob(none))
	}
	if held[MetricDeadTuples] <= none[MetricDeadTuples] {
		t.Errorf("dead tuples at the end: %v held, %v without, want more held", held[MetricDeadTuples], none[MetricDeadTuples])
	}
	if held[MetricAutovacuumRunsWhileHeld] < 1 {
		t.Errorf("held: %v autovacuum runs while held, want some (that removed nothing)", held[MetricAutovacuumRunsWhileHeld])
	}
	if held[MetricLongTxnHeldS] < whole || held[MetricLongTxnEndedByTimeout] != 0 {
		t.Errorf("held: long_txn_held_s %v, ended by timeout %v; want the whole %v s point, not ended by the server",
			held[MetricLongTxnHeldS], held[MetricLongTxnEndedByTimeout], whole)
	}
	if _, ok := held[MetricXminReleasedAtS]; ok {
		t.Errorf("held: xmin_released_at_s %v, want none (held to the end)", held[MetricXminReleasedAtS])
	}
	if none[MetricLongTxnHeldS] != 0 {
		t.Errorf("no long transaction: long_txn_held_s %v, want 0", none[MetricLongTxnHeldS])
	}

	// Fixed: the server ended the holder after 3 s idle, and vacuum caught up.
	if fixed[MetricLongTxnEndedByTimeout] != 1 {
		t.Errorf("fixed: long_txn_ended_by_timeout %v, want 1", fixed[MetricLongTxnEndedByTimeout])
	}
	if r, ok := fixed[MetricXminReleasedAtS]; !ok || r <= 0 || r >= whole {
		t.Errorf("fixed: xmin_released_at_s %v (set %v), want the release within the %v s point", r, ok, whole)
	}
	if at, least := fixed[MetricDeadTuplesAtRelease], fixed[MetricDeadTuplesLeastAfterRelease]; at == 0 || least > at/2 {
		t.Errorf("fixed: %v dead tuples at the release, least after it %v; want them at least halved", at, least)
	}
	released := false
	measured, read := 0, 0
	for _, sec := range byPoint[[2]float64{3600, 3}].Timeline {
		if sec.Extra["xmin_released"] == 1 {
			released = true
			if sec.Extra["xmin_held"] == 1 && float64(sec.T) > fixed[MetricXminReleasedAtS]+1 {
				t.Errorf("fixed: second %d both held and released past the release", sec.T)
			}
		}
		if !sec.Warmup {
			measured++
			if _, ok := sec.Extra["queue_dead_tuples"]; ok {
				read++
			}
		}
	}
	// The table watcher reads once a second; on a loaded machine a reading can slip past a
	// second's end (6 of 8 seconds carried one in a full make test at four test binaries at a
	// time), so at least half the seconds, not all, must carry one: a watcher that stopped
	// reading leaves one or none.
	if read*2 < measured {
		t.Errorf("fixed: %d of %d measured seconds carry queue_dead_tuples, want at least half", read, measured)
	}
	if !released {
		t.Error("fixed: no second of the timeline marks the release")
	}
}

// TestHolderEndsOnEveryPath: the holder's session holds a snapshot (backend_xmin set, idle in
// transaction); canceling the run's context (Ctrl-C) ends it, and so does the server's idle
// timeout, which the holder reports. Nothing of it is left.
func TestHolderEndsOnEveryPath(t *testing.T) {
	harnesstest.RequirePostgres(t)
	t.Parallel()
	target := harnesstest.Schema(t)
	ctx := context.Background()
	admin, err := pgx.ParseConfig(target.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE task_queue (id bigint)"); err != nil {
		t.Fatal(err)
	}
	holders := func() (n int, withXmin int) {
		t.Helper()
		err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE backend_xmin IS NOT NULL AND state = 'idle in transaction')
FROM pg_stat_activity WHERE application_name = $1`, holderAppName).Scan(&n, &withXmin)
		if err != nil {
			t.Fatal(err)
		}
		return n, withXmin
	}
	gone := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if n, _ := holders(); n == 0 {
				return
			}
		}
		t.Fatalf("%s: the holder's session is still there", what)
	}

	runCtx, interrupt := context.WithCancel(ctx)
	h, err := startHolder(runCtx, admin, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, withXmin := holders(); n != 1 || withXmin != 1 {
		t.Fatalf("%d holder sessions, %d idle in transaction with backend_xmin; want 1 and 1", n, withXmin)
	}
	interrupt() // Ctrl-C
	h.stop()
	// stop returns once the transaction is rolled back: no snapshot is held from then on, though
	// the backend may take a few milliseconds more to exit.
	if _, withXmin := holders(); withXmin != 0 {
		t.Fatalf("after Ctrl-C and stop: %d holder sessions still idle in transaction with backend_xmin; want 0", withXmin)
	}
	gone("after Ctrl-C")
	if _, ended, byTimeout, _ := h.span(); ended.IsZero() || byTimeout {
		t.Errorf("after Ctrl-C: ended %v, by timeout %v; want ended, not by the server", ended, byTimeout)
	}

	h, err = startHolder(ctx, admin, time.Hour, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer h.stop()
	gone("with a 300ms idle timeout")
	h.stop()
	started, ended, byTimeout, code := h.span()
	if !byTimeout || code != codeIdleInTransactionTimeout {
		t.Errorf("idle timeout: by timeout %v, code %q; want true, %s", byTimeout, code, codeIdleInTransactionTimeout)
	}
	if !ended.After(started) {
		t.Errorf("idle timeout: ended %v, not after the snapshot at %v", ended, started)
	}
}

func TestLongTxnPlan(t *testing.T) {
	t.Parallel()
	plan := func(sets map[string]string) scenarios.Plan {
		t.Helper()
		p, err := scenarios.ResolveParams((&scenario{}).Doc(), sets, false)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := (&scenario{}).Plan(p)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	pl := plan(map[string]string{"variants": "dedicated", "workers": "10", "long_txn": "0,1m", "idle_in_transaction_timeout": "0,10s"})
	var got []string
	for _, pt := range pl.Points {
		hold, timeout := longTxnOf(pt)
		got = append(got, hold.String()+"/"+timeout.String())
	}
	if want := "0s/0s,1m0s/0s,1m0s/10s"; strings.Join(got, ",") != want {
		t.Errorf("points %v, want %s (no timeout point without a long transaction)", got, want)
	}
	if pl.Settings["autovacuum_naptime"] != eagerNaptime {
		t.Errorf("settings %v, want autovacuum_naptime=%s", pl.Settings, eagerNaptime)
	}
	pl = plan(map[string]string{"variants": "dedicated", "workers": "10"})
	if _, ok := pl.Points[0].Values[pointLongTxn]; ok || pl.Settings != nil {
		t.Errorf("without long_txn: point %v, settings %v; want neither touched", pl.Points[0].Values, pl.Settings)
	}
}

// TestLongTxnBadInput: bad values are one-line usage errors from the runner's preparation,
// before any target starts.
func TestLongTxnBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sets map[string]string
		want string
	}{
		{map[string]string{"long_txn": "abc"}, "--set long_txn=abc: not a duration"},
		{map[string]string{"long_txn": "-1s"}, "--set long_txn=-1s: must be at least 0"},
		{map[string]string{"idle_in_transaction_timeout": "5s"}, "--set idle_in_transaction_timeout: it ends a long transaction, and long_txn=0s holds none"},
		{map[string]string{"long_txn": "1m", "idle_in_transaction_timeout": "10us"}, "--set idle_in_transaction_timeout=10µs: must be 0 (off) or at least 1ms"},
	} {
		_, err := runner.Prepare(runner.Options{
			Scenario: Name, Sets: c.sets, Target: harness.KindLocal, Repeat: 1, Out: t.TempDir(),
		}, time.Now())
		if err == nil || !usage.Is(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--set %v: error %v, want a one-line usage error containing %q", c.sets, err, c.want)
		}
	}
}

// TestLongTxnLeavesNothingOnDSN interrupts a long_txn run against a dsn target while the holder
// holds, as Ctrl-C does: the result says interrupted, and no session of pgscale's, holder or
// other, and no transaction is left on the server. (A connection dropped without closing is
// closed in time by the Go runtime's finalizers too, so the sharper check, that the holder's
// transaction is over the moment stop returns, is TestHolderEndsOnEveryPath's.)
func TestLongTxnLeavesNothingOnDSN(t *testing.T) {
	harnesstest.RequirePostgres(t)
	tg := harnesstest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	go func() { // Ctrl-C a second after the holder has taken its snapshot
		conn, err := pgx.Connect(ctx, tg.AdminDSN())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for runCtx.Err() == nil {
			var n int
			err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND state = 'idle in transaction' AND backend_xmin IS NOT NULL`, holderAppName).Scan(&n)
			if err == nil && n == 1 {
				time.Sleep(time.Second)
				interrupt()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	p, err := runner.Prepare(runner.Options{
		Scenario: Name, Target: harness.KindDSN, DSN: tg.AdminDSN(), Repeat: 1, Out: t.TempDir(), NoReport: true, AllowIntrusive: true,
		Sets:     map[string]string{"variants": "dedicated", "workers": "10", "history": "10000", "backlog": "100000", "long_txn": "1h"},
		Duration: time.Minute, Warmup: 500 * time.Millisecond,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, runErr := p.Run(runCtx)
	if res == nil || res.Status != result.StatusInterrupted {
		t.Fatalf("run: %v, result %+v; want status interrupted", runErr, res)
	}
	conn, err := pgx.Connect(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left, inTxn int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE application_name LIKE 'pgscale%'),
       count(*) FILTER (WHERE state LIKE 'idle in transaction%' OR backend_xmin IS NOT NULL AND pid <> pg_backend_pid())
FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&left, &inTxn)
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 && inTxn == 0 || time.Now().After(deadline) {
			break
		}
	}
	if left != 0 || inTxn != 0 {
		t.Errorf("after the interrupt: %d sessions of pgscale's and %d in a transaction or holding a snapshot; want none", left, inTxn)
	}
}
