package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/sizing"
	"github.com/pgscale/pgscale/internal/sizing/measure"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/internal/workload"
)

// sizeOptions are the flags of `pgscale size`.
type sizeOptions struct {
	Workload  string
	Catalogs  []string
	Result    string
	Providers []string
	Columns   string
	Out       string
	JSON      bool
	Markdown  bool

	// --measure and its options.
	Measure         bool
	Shapes          []string
	Image           string
	MeasureDuration time.Duration
	MeasureRounds   int
	MeasureBackends int
	// MeasureWorkload is a workload file (pgscale run's) whose transactions --measure runs as a
	// request, instead of select-only's lookups.
	MeasureWorkload string
	// measureFlags are the measure options the user set, to refuse them without --measure.
	measureFlags []string
}

// Validate reports every problem with the flags at once.
func (o *sizeOptions) Validate() error {
	if o.Workload == "" && o.Result == "" {
		return usage.Errorf("size: --workload FILE is required (a workload spec; see examples/workload.yaml), " +
			"or --result RUN to size from a connect-storm result alone")
	}
	if o.JSON && o.Markdown {
		return usage.Errorf("size: --json and --markdown both print the report; choose one")
	}
	if !o.Measure && len(o.measureFlags) > 0 {
		return usage.Errorf("size: --%s is for --measure", o.measureFlags[0])
	}
	return nil
}

func newSizeCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	o := &sizeOptions{}
	cmd := &cobra.Command{
		Use:   "size --workload FILE | --result RUN",
		Short: "Name the cheapest instance class per provider that carries a workload, and why",
		Long: "size reads a workload spec (peak rate, time per request, pools, queue, ingest, data, or a\n" +
			"connect-storm result to take them from) and checks every class of the instance catalog on\n" +
			"connections, memory, CPU and storage. It prints the cheapest class per provider that passes\n" +
			"with headroom, the constraint that binds, the runners-up, the answer with a pooler, and how\n" +
			"max_connections grows with price. Catalog prices are as published on the date shown: verify them.\n\n" +
			"--measure runs select-only (and, where the workload has them, connects per request and queue jobs)\n" +
			"on docker containers of several --shapes, fits throughput against vCPU by least squares, and takes\n" +
			"the CPU per request, per connect and per job from the fit, and the memory per backend from idle\n" +
			"connections in a container. The load generator shares the host: keep every shape below the host's\n" +
			"cores minus one (the default shapes, 0.25 to 0.75 CPU, bind on a 2-core host).",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.MeasureWorkload != "" {
				o.Measure = true // --measure-workload implies --measure
			}
			for _, name := range []string{"shapes", "image", "measure-duration", "measure-rounds", "measure-backends"} {
				if cmd.Flags().Changed(name) {
					o.measureFlags = append(o.measureFlags, name)
				}
			}
			return runSize(cmd.Context(), o, stdout, stderr, tracker)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", "", "workload spec (YAML)")
	f.StringArrayVar(&o.Catalogs, "catalog", nil, "extra catalog `FILE` (YAML; repeatable); a provider already in the catalog is replaced")
	f.StringVar(&o.Result, "result", "", "connect-storm result (result.json or its run directory) to read the workload's figures from; overrides from_result.file. "+
		"A capacity result (run --capacity) is read as the measured ceiling of its shape")
	f.StringSliceVar(&o.Providers, "provider", nil, "only these providers (comma-separated); overrides the spec's providers")
	f.StringVar(&o.Columns, "columns", "", "`FILE` written by pgscale columns --json, whose savings the storage model takes; overrides data.columns")
	f.StringVar(&o.Out, "out", "", "directory to write size.md, size.html, size.json and the plot into")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.BoolVar(&o.Markdown, "markdown", false, "print the report as Markdown")
	f.BoolVar(&o.Measure, "measure", false, "measure CPU and memory per backend on docker containers of --shapes (about a minute and a half)")
	f.StringSliceVar(&o.Shapes, "shapes", strings.Split(measure.DefaultShapes, ","), "--measure: container shapes (comma-separated, at least two CPU limits)")
	f.StringVar(&o.Image, "image", "", "--measure: PostgreSQL image (default: $PGSCALE_IMAGE or the docker target's default)")
	f.DurationVar(&o.MeasureDuration, "measure-duration", measure.DefaultDuration, "--measure: measured time per point (after a 1s warm-up)")
	f.IntVar(&o.MeasureRounds, "measure-rounds", measure.DefaultRounds, "--measure: rounds over the shapes; each shape keeps its best")
	f.StringVar(&o.MeasureWorkload, "measure-workload", "", "--measure: a workload file (as pgscale run takes) whose transactions stand for a request, instead of select-only's lookups")
	f.IntVar(&o.MeasureBackends, "measure-backends", measure.DefaultBackends, "--measure: idle connections whose memory is read (0: keep the default memory per backend)")
	return cmd
}

func runSize(ctx context.Context, o *sizeOptions, stdout, stderr io.Writer, tracker *harness.Tracker) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Result != "" && o.Workload == "" {
		// A capacity result is the measured ceiling of the shape it ran on.
		if c, ok, err := sizing.ReadCeiling(o.Result); ok || err != nil {
			if err != nil {
				return err
			}
			if o.JSON {
				fmt.Fprint(stdout, c.JSON())
			} else {
				fmt.Fprint(stdout, c.Text())
			}
			return nil
		}
	}
	cat, err := sizing.LoadCatalog(o.Catalogs...)
	if err != nil {
		return err
	}
	spec := &sizing.Spec{}
	if o.Workload != "" {
		if spec, err = sizing.ParseWorkload(o.Workload); err != nil {
			return err
		}
	}
	if o.Result != "" {
		ref := &sizing.ResultRef{}
		if spec.FromResult != nil {
			*ref = *spec.FromResult
		}
		abs, err := filepath.Abs(o.Result)
		if err != nil {
			return fmt.Errorf("size: --result %s: %w", o.Result, err)
		}
		ref.File = abs
		spec.FromResult = ref
	}
	if o.Columns != "" {
		abs, err := filepath.Abs(o.Columns)
		if err != nil {
			return fmt.Errorf("size: --columns %s: %w", o.Columns, err)
		}
		spec.Data.Columns = abs
	}
	if len(o.Providers) > 0 {
		spec.Providers = o.Providers
	}
	w, err := spec.Resolve(cat)
	if err != nil {
		return err
	}
	if o.Measure {
		m, err := runMeasure(ctx, o, w, stderr, tracker)
		if err != nil {
			return err
		}
		w.ApplyMeasurement(m)
	}
	r := sizing.Size(w, cat)

	if o.Out != "" {
		if err := sizing.WriteFiles(o.Out, r); err != nil {
			return fmt.Errorf("size: %w", err)
		}
	}
	switch {
	case o.JSON:
		err = sizing.WriteJSON(stdout, r)
	case o.Markdown:
		err = sizing.WriteMarkdown(stdout, r)
	default:
		err = sizing.WriteText(stdout, r)
	}
	if err != nil {
		return err
	}
	if o.Out != "" && !o.JSON && !o.Markdown {
		fmt.Fprintf(stdout, "wrote %s (%s, %s, %s)\n", o.Out, sizing.MarkdownFile, sizing.HTMLFile, sizing.JSONFile)
	}
	return nil
}

// runMeasure measures the workload's probes on the shapes; bad shapes are a usage error before
// anything starts.
func runMeasure(ctx context.Context, o *sizeOptions, w *sizing.Workload, stderr io.Writer, tracker *harness.Tracker) (*sizing.Measurement, error) {
	now := time.Now()
	dir := filepath.Join("results", "runs", now.UTC().Format("20060102T150405Z")+"-size-measure")
	if o.Out != "" {
		dir = filepath.Join(o.Out, "measure")
	}
	probes := sizing.ProbesFor(w)
	if o.MeasureWorkload != "" {
		f, err := workload.Load(o.MeasureWorkload)
		if err != nil {
			return nil, err
		}
		probes = sizing.WithWorkload(probes, o.MeasureWorkload, f.Name)
	}
	plan, err := measure.Prepare(measure.Options{
		Shapes: o.Shapes, Image: o.Image, Duration: o.MeasureDuration, Warmup: measure.DefaultWarmup,
		Rounds: o.MeasureRounds, Backends: o.MeasureBackends, Dir: dir, Log: stderr, Tracker: tracker,
	}, probes, now)
	if err != nil {
		return nil, err
	}
	m, err := plan.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("size --measure: %w", err)
	}
	fmt.Fprintf(stderr, "measure: results in %s\n", dir)
	return m, nil
}
