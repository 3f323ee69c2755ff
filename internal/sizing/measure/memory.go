package measure

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/sizing"
)

// memoryAppName marks the idle connections whose backends are read.
const memoryAppName = "pgscale-size-memory"

// readBackendMemory starts a container of the given shape, opens n connections that each run
// one query and then sit idle, and reads each backend's private memory (Private_Clean +
// Private_Dirty of /proc/<pid>/smaps_rollup, through pg_read_file as the superuser, so that it
// works inside the container's own process namespace). It returns the mean.
func readBackendMemory(ctx context.Context, o Options, shape harness.Shape, n int) (*sizing.BackendMemory, error) {
	spec := harness.Spec{Kind: harness.KindDocker, RunID: "size-memory", Image: o.Image, Shape: shape.Name,
		Settings: map[string]string{"max_connections": strconv.Itoa(n + 20)}}
	provider, _, err := harness.ChooseFor(ctx, spec)
	if err != nil {
		return nil, err
	}
	target, err := harness.StartTarget(ctx, provider, spec)
	if err != nil {
		return nil, err
	}
	if o.Tracker != nil {
		o.Tracker.Add(target)
		defer o.Tracker.Remove(target)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = target.Close(cctx)
	}()

	cfg, err := harness.ConnConfig(target.DSN())
	if err != nil {
		return nil, fmt.Errorf("target %w", err)
	}
	cfg.RuntimeParams["application_name"] = memoryAppName
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	for range n {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open idle connection: %s", harness.RedactDSN(err.Error()))
		}
		conns = append(conns, c)
		// One query, as a pooled connection has run: catalog caches and the plan of a simple
		// statement, no more.
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			return nil, fmt.Errorf("idle connection: %w", err)
		}
	}
	admin, err := pgx.Connect(ctx, target.AdminDSN())
	if err != nil {
		return nil, fmt.Errorf("connect: %s", harness.RedactDSN(err.Error()))
	}
	defer admin.Close(context.WithoutCancel(ctx))
	rows, err := admin.Query(ctx, `SELECT pg_read_file('/proc/' || pid || '/smaps_rollup', 0, 65536, true)
		FROM pg_stat_activity WHERE application_name = $1`, memoryAppName)
	if err != nil {
		return nil, fmt.Errorf("read backends' smaps_rollup: %w", err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		return nil, fmt.Errorf("read backends' smaps_rollup: %w", err)
	}
	var sum float64
	var read int
	var errs []error
	for _, t := range texts {
		if t == nil {
			continue
		}
		kb, err := PrivateKB(*t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum += kb
		read++
	}
	if read == 0 {
		if len(errs) > 0 {
			return nil, errs[0]
		}
		return nil, errNoBackends
	}
	return &sizing.BackendMemory{MiB: sum / float64(read) / 1024, Backends: read, Shape: shape.Name,
		Method: "Private_Clean + Private_Dirty of smaps_rollup, each after one query"}, nil
}

// PrivateKB sums Private_Clean and Private_Dirty (kB) of a /proc/<pid>/smaps_rollup text.
func PrivateKB(smaps string) (float64, error) {
	var kb float64
	found := 0
	sc := bufio.NewScanner(strings.NewReader(smaps))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "Private_Clean" && name != "Private_Dirty") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("smaps_rollup: %s: %w", name, err)
		}
		kb += v
		found++
	}
	if found != 2 {
		return 0, errors.New("smaps_rollup has no Private_Clean and Private_Dirty lines")
	}
	return kb, nil
}
