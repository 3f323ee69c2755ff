package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/calibrate"
	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/result"
)

func newCalibrateCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	var (
		target, dsn, image, shape, out string
		modes                          []string
		pooler                         poolerFlags
		latency                        time.Duration
	)
	opts := calibrate.Options{Out: stdout, Log: stderr}
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Compare pgscale's load generator with pgbench on the same server",
		Long: "calibrate runs select-only's prepared lookups against `pgbench -S -M prepared`, and\n" +
			"connect-per-operation against `pgbench -S -C`, each once on each of pgscale's engines (--engine:\n" +
			"mux, an OS thread per CPU serving every connection, which `pgscale run script` and select-only run\n" +
			"by default; goroutines, a goroutine per client, where mux cannot run), each pgscale run\n" +
			"followed by its own pgbench run, A B A B on one server with the same client count, and prints for\n" +
			"every line its engine, both throughputs, their ratio, the client CPU seconds each side spent per\n" +
			"1,000 transactions and their ratio, and a warning when either side ran client-bound (its\n" +
			"throughput is the client's).\n" +
			"On --target dsn it loads its tables into a schema of its own (pgscale_<run id>), which every\n" +
			"connection, pgbench's included, is pinned to, and drops that schema at the end. It needs no\n" +
			"--allow-intrusive: it holds --clients connections and takes no lock outside its schema.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Modes = modes
			dsn = dsnOrEnv(dsn, target)
			if err := opts.Validate(); err != nil {
				return err
			}
			if target == harness.KindDSN {
				if _, err := harness.ParseDSN(dsn); err != nil {
					return err
				}
			}
			poolerSpec, err := pooler.spec(cmd.Flags().Changed)
			if err != nil {
				return err
			}
			if poolerSpec != nil {
				engines, note, err := calibrate.EnginesBehindPooler(opts.Engines, poolerSpec.Mode, cmd.Flags().Changed("engine"))
				if err != nil {
					return err
				}
				if note != "" {
					fmt.Fprintln(stderr, note)
				}
				opts.Engines = engines
			}
			if err := harness.ValidateLatency(latency); err != nil {
				return err
			}
			if shape != "" {
				if _, err := harness.ParseShape(shape); err != nil {
					return err
				}
			}
			if image != "" {
				if err := harness.ValidateImage(image); err != nil {
					return err
				}
			}
			return runCalibrate(cmd.Context(), tracker, harness.Spec{Kind: target, DSN: dsn, Image: image, Shape: shape,
				Pooler: poolerSpec, Latency: latency,
				RunID:    time.Now().UTC().Format("20060102T150405Z") + "-calibrate",
				Settings: map[string]string{"max_connections": fmt.Sprint(max(100, opts.Clients+20))}}, opts, out, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&target, "target", "auto", "where PostgreSQL runs: auto, docker, local or dsn")
	fl.StringVar(&dsn, "dsn", "", "existing server for --target dsn (default $"+envDSN+")")
	fl.StringVar(&image, "image", "", "container image for --target docker (default $PGSCALE_IMAGE, else "+harness.DefaultImage+")")
	fl.StringVar(&shape, "shape", "", "CPU and memory limits for --target docker, e.g. 1cpu-1gb")
	pooler.register(fl)
	fl.DurationVar(&latency, "latency", 0, "round-trip time added between both load generators and the server, e.g. 2ms")
	fl.IntVar(&opts.Clients, "clients", 8, "concurrent clients on both sides (pgbench -c)")
	fl.DurationVar(&opts.Duration, "duration", 10*time.Second, "length of each side of a pair")
	fl.IntVar(&opts.Pairs, "pairs", 3, "A B pairs per mode")
	fl.IntVar(&opts.Scale, "scale", 10, "pgbench scale of the tables")
	fl.StringSliceVar(&modes, "mode", []string{calibrate.ModePrepared, calibrate.ModeConnect}, "modes: prepared, connect")
	fl.StringSliceVar(&opts.Engines, "engine", calibrate.DefaultEngines, "engines of pgscale's side: mux, goroutines (mux is skipped with a note over TLS)")
	fl.StringVar(&opts.PgbenchPath, "pgbench", "", "path of pgbench (default: found on PATH)")
	fl.StringVar(&out, "out", "", "also write calibrate.json into this directory")
	return cmd
}

func runCalibrate(ctx context.Context, tracker *harness.Tracker, spec harness.Spec, opts calibrate.Options, out string, stderr io.Writer) error {
	provider, note, err := harness.ChooseFor(ctx, spec)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(stderr, note)
	}
	spec.Kind = provider.Kind()
	t, err := harness.StartTarget(ctx, provider, spec)
	if err != nil {
		return err // the harness's errors name the target
	}
	tracker.Add(t)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = t.Close(cctx)
		tracker.Remove(t)
	}()
	info, err := t.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "calibrate: %s target, PostgreSQL %s, %d clients, %d pairs of %s per mode (%s)\n",
		provider.Kind(), info.Version, opts.Clients, opts.Pairs, opts.Duration, strings.Join(opts.Modes, ", "))
	if line := targetLine(t.Detail()); line != "" {
		fmt.Fprintf(opts.Out, "calibrate: %s\n", line)
	}
	rep, err := calibrate.Run(ctx, t, opts)
	if err != nil {
		return err
	}
	if out != "" {
		return result.WriteFile(out+"/calibrate.json", rep)
	}
	return nil
}

// targetLine names what shapes the numbers besides the server: image, shape, pooler, latency and
// the network path, from the target's detail.
func targetLine(d map[string]string) string {
	var parts []string
	for _, k := range []string{"image", "shape", "pooler", "pooler_mode", "pooler_size", "latency", "network_path"} {
		if v := d[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
