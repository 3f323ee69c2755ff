// Command pgscale benchmarks PostgreSQL and plans its capacity: it starts a server (in a
// container, from local binaries, or an existing one by DSN), replays a named scenario, watches
// the server, and writes latency, throughput and connection-limit results.
//
// The commands are thin: flags become options, options are validated, and the packages do the
// work. Usage errors exit 2, runtime failures 1, an interrupted run 130.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgscale/pgscale/harness"

	// The scenarios register themselves.
	_ "github.com/pgscale/pgscale/scenarios/all"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// errInterrupted is the cause of a context canceled by Ctrl-C.
var errInterrupted = errors.New("interrupted by signal")

func main() {
	// PGSCALE_CPUPROFILE=file profiles pgscale itself, for work on the load generator's overhead.
	if path := os.Getenv("PGSCALE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	// PGSCALE_MEMPROFILE=file writes a heap profile when the command ends.
	if path := os.Getenv("PGSCALE_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	os.Exit(code)
}

// run executes the CLI and maps errors to exit statuses.
func run(args []string, stdout, stderr io.Writer) int {
	tracker := harness.NewTracker()
	ctx, stop := interruptContext(tracker, stderr)
	defer stop()
	root := newRootCmd(stdout, stderr, tracker)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case harness.IsUsage(err):
		fmt.Fprintf(stderr, "pgscale: %v\n", err)
		return exitUsage
	case errors.Is(context.Cause(ctx), errInterrupted):
		fmt.Fprintf(stderr, "pgscale: %v\n", err)
		return exitInterrupted
	case exitCode(err) != 0: // an error that names its exit status (the gate's 1 and 3)
		fmt.Fprintf(stderr, "pgscale: %v\n", err)
		return exitCode(err)
	default:
		fmt.Fprintf(stderr, "pgscale: %v\n", err)
		return exitFailure
	}
}

// interruptContext is canceled by the first SIGINT or SIGTERM, which lets a run stop gracefully
// and write what it measured. A second signal closes every tracked target and exits at once.
func interruptContext(tracker *harness.Tracker, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	// SIGPIPE too: `pgscale run … | head` must stop like an interrupt, not die leaving servers behind.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\npgscale: stopping, writing what was measured (Ctrl-C again to stop at once)")
		cancel(errInterrupted)
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "pgscale: stopping now")
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		tracker.CloseAll(cctx)
		ccancel()
		os.Exit(exitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

func newRootCmd(stdout, stderr io.Writer, tracker *harness.Tracker) *cobra.Command {
	root := &cobra.Command{
		Use:   "pgscale",
		Short: "Benchmark PostgreSQL and plan its capacity",
		Long: "pgscale starts PostgreSQL (in a container, from local binaries, or an existing server),\n" +
			"replays a named scenario, watches the server, and reports latency, throughput and connection limits.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return harness.Usagef("%v (see --help)", err)
	})
	root.AddCommand(
		newListCmd(stdout),
		newDescribeCmd(stdout),
		newRunCmd(stdout, stderr, tracker),
		newPrepareCmd(stdout, stderr, tracker),
		newCalibrateCmd(stdout, stderr, tracker),
		newColumnsCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newCompareCmd(stdout),
		newMergeCmd(stdout, stderr),
		newGateCmd(stdout, stderr, tracker),
		newSizeCmd(stdout, stderr, tracker),
		newCleanCmd(stdout),
		newVersionCmd(stdout),
	)
	return root
}

// isTerminal tells whether w is a terminal, for the live progress line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// usageArgs wraps cobra's argument checks so that a wrong argument count exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return harness.Usagef("%s: %v", cmd.CommandPath(), err)
		}
		return nil
	}
}
