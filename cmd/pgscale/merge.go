package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/shard"
	"github.com/pgscale/pgscale/internal/usage"
	"github.com/pgscale/pgscale/result"
)

// mergeCmd is `pgscale merge`: the results of a sharded run's shards in, one result out.
type mergeCmd struct {
	paths    []string
	out      string
	noReport bool
}

// errIncomplete ends a merge whose result was written but lacks a shard: exit 1, never silently
// short.
var errIncomplete = errors.New("the merged result is incomplete")

func newMergeCmd(stdout, stderr io.Writer) *cobra.Command {
	var c mergeCmd
	cmd := &cobra.Command{
		Use:   "merge DIR... [--out DIR]",
		Short: "Merge the results of a sharded run's shards into one result",
		Long: "merge combines the results of the shards of one run (pgscale run --shard i/N --run-id ID) exactly:\n" +
			"HDR histograms are merged and percentiles recomputed from them, counters and throughput summed,\n" +
			"timelines aligned by wall-clock second, and every shard's host listed. A directory without a\n" +
			"result.json stands for the shard directories in it. A run that lacks a shard, or one of whose\n" +
			"shards did not finish, is written with status incomplete, and merge exits 1.",
		Example: `  pgscale merge results/runs/orders-1/shard-0 results/runs/orders-1/shard-1 --out results/runs/orders-1/merged
  pgscale merge results/runs/orders-1          # every shard-* in it; writes results/runs/orders-1/merged
  pgscale report results/runs/orders-1/merged`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.paths = args
			return c.Run(stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&c.out, "out", "", "output directory (default: DIR/merged when one directory of shards is given, else results/runs/<run-id>/merged)")
	cmd.Flags().BoolVar(&c.noReport, "no-report", false, "write no report.md, report.html or plots")
	return cmd
}

func (c *mergeCmd) Run(stdout, stderr io.Writer) error {
	paths, err := expandShardDirs(c.paths, c.out)
	if err != nil {
		return err
	}
	settleKilled(paths, stderr)
	results, err := report.LoadAll(paths)
	if err != nil {
		return inputError(err)
	}
	inputs := make([]shard.Input, len(results))
	for i, r := range results {
		inputs[i] = shard.Input{Name: paths[i], Result: r}
	}
	merged, err := shard.Merge(inputs)
	if err != nil {
		return err
	}
	if err := result.ValidateResult(merged); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	out, flag := c.out, "--out "+c.out
	if out == "" {
		out = defaultMergeOut(c.paths, merged.RunID)
		flag = out + " (the default without --out)"
	}
	for _, p := range paths {
		if samePath(p, out) {
			return usage.Fieldf("out", "%s is one of the shards' directories: give another", out)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usage.Errorf("%s: cannot create the directory: %v; give --out", flag, err)
	}
	if err := runner.WriteOutputs(out, merged); err != nil {
		return err
	}
	if !c.noReport {
		if err := report.WriteReport(out, []*result.Result{merged}, report.ReportOptions{}); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
		}
	}
	fmt.Fprint(stdout, report.Text(merged))
	fmt.Fprintf(stderr, "merged %d of %d shards of run %s into %s\n", len(merged.Shard.Merged), merged.Shard.Count, merged.RunID, out)
	if merged.Status == result.StatusIncomplete {
		return fmt.Errorf("%w: %s", errIncomplete, merged.Reason)
	}
	return nil
}

// defaultMergeOut is where a merge writes without --out: beside the shards when one directory of
// them was given (pgscale merge runs/orders-1 writes runs/orders-1/merged), else under
// results/runs/<run id>/merged.
func defaultMergeOut(paths []string, runID string) string {
	if len(paths) == 1 && isShardsDir(paths[0]) {
		return filepath.Join(paths[0], "merged")
	}
	return filepath.Join("results", "runs", runID, "merged")
}

// isShardsDir tells whether p is a directory without a result.json of its own: one that holds
// the shard directories of a run.
func isShardsDir(p string) bool {
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return false
	}
	_, err = os.Stat(filepath.Join(p, "result.json"))
	return errors.Is(err, fs.ErrNotExist)
}

// expandShardDirs replaces a directory that has no result.json by its subdirectories that
// have one (the shard-* directories of a run), leaving out the merge's own output.
func expandShardDirs(paths []string, out string) ([]string, error) {
	var expanded []string
	for _, p := range paths {
		if !isShardsDir(p) {
			expanded = append(expanded, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, usage.Errorf("%s: %v", p, err)
		}
		var found []string
		for _, e := range entries {
			sub := filepath.Join(p, e.Name())
			if !e.IsDir() || (out != "" && samePath(sub, out)) || e.Name() == "merged" {
				continue
			}
			if _, err := os.Stat(filepath.Join(sub, "result.json")); err == nil {
				found = append(found, sub)
			}
		}
		if len(found) == 0 {
			return nil, usage.Errorf("%s: no result.json in this directory nor in its subdirectories (give the shards' result directories)", p)
		}
		sort.Strings(found)
		expanded = append(expanded, found...)
	}
	return expanded, nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
