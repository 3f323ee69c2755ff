package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/harness"
	"github.com/pgscale/pgscale/report"
	"github.com/pgscale/pgscale/sizing"
)

// sizeOptions are the flags of `pgscale size`.
type sizeOptions struct {
	Workload  string
	Catalogs  []string
	Result    string
	Providers []string
	Out       string
	JSON      bool
	Markdown  bool
}

// Validate reports every problem with the flags at once.
func (o *sizeOptions) Validate() error {
	if o.Workload == "" && o.Result == "" {
		return harness.Usagef("size: --workload FILE is required (a workload spec; see examples/workload.yaml), " +
			"or --result RUN to size from a connect-storm result alone")
	}
	if o.JSON && o.Markdown {
		return harness.Usagef("size: --json and --markdown both print the report; choose one")
	}
	return nil
}

func newSizeCmd(stdout io.Writer) *cobra.Command {
	o := &sizeOptions{}
	cmd := &cobra.Command{
		Use:   "size --workload FILE | --result RUN",
		Short: "Name the cheapest instance class per provider that carries a workload, and why",
		Long: "size reads a workload spec (peak rate, time per request, pools, queue, ingest, data, or a\n" +
			"connect-storm result to take them from) and checks every class of the instance catalog on\n" +
			"connections, memory, CPU and storage. It prints the cheapest class per provider that passes\n" +
			"with headroom, the constraint that binds, the runners-up, the answer with a pooler, and how\n" +
			"max_connections grows with price. Catalog prices are as published on the date shown: verify them.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return runSize(o, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", "", "workload spec (YAML)")
	f.StringArrayVar(&o.Catalogs, "catalog", nil, "extra catalog file (YAML; repeatable); a provider already in the catalog is replaced")
	f.StringVar(&o.Result, "result", "", "connect-storm result (result.json or its run directory) to read the workload's figures from; overrides from_result.file")
	f.StringSliceVar(&o.Providers, "provider", nil, "only these providers (comma-separated); overrides the spec's providers")
	f.StringVar(&o.Out, "out", "", "directory to write size.md and size.json into")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.BoolVar(&o.Markdown, "markdown", false, "print the report as Markdown")
	return cmd
}

func runSize(o *sizeOptions, stdout io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
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
	if len(o.Providers) > 0 {
		spec.Providers = o.Providers
	}
	w, err := spec.Resolve(cat)
	if err != nil {
		return err
	}
	r := sizing.Size(w, cat)

	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return fmt.Errorf("size: %w", err)
		}
		var md bytes.Buffer
		if err := sizing.WriteMarkdown(&md, r); err != nil {
			return err
		}
		if err := report.WriteAtomic(filepath.Join(o.Out, "size.md"), md.Bytes()); err != nil {
			return err
		}
		if err := report.WriteFile(filepath.Join(o.Out, "size.json"), r); err != nil {
			return err
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
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(o.Out, "size.md"))
	}
	return nil
}
