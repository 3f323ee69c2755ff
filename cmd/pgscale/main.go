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
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"

	// The scenarios register themselves.
	_ "github.com/pgscale/pgscale/internal/scenarios/all"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// interruption is the cause of a context canceled to stop a run early but cleanly: the run
// writes what it measured as interrupted, and pgscale exits 130.
type interruption struct{ why string }

func (e *interruption) Error() string { return e.why }

var (
	// errInterrupted is the cause of a context canceled by Ctrl-C or SIGTERM.
	errInterrupted = &interruption{"interrupted by signal"}
	// errOutputClosed is the cause of a context canceled because standard output broke.
	errOutputClosed = &interruption{"standard output was closed"}
)

// isInterruption tells whether err is an interruption's.
func isInterruption(err error) bool {
	var in *interruption
	return errors.As(err, &in)
}

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
	stopWatch := func() {}
	if path := os.Getenv("PGSCALE_MEMSTATS"); path != "" {
		stopWatch = watchMemory(path)
	}
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stopWatch()
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
	ctx, interrupt, stop := interruptContext(tracker, stderr)
	defer stop()
	stdout = guardOutput(ctx, stdout, stderr, interrupt)
	root := newRootCmd(stdout, stderr, tracker)
	root.SetArgs(args)
	err := unknownCommand(root.ExecuteContext(ctx))
	switch {
	case err == nil:
		return exitOK
	case usage.Is(err):
		// The libraries name the input a message is about; on the command line it is a flag.
		fmt.Fprintf(stderr, "pgscale: %s\n", usage.Render(err, usage.Flag))
		return exitUsage
	case isInterruption(context.Cause(ctx)):
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
// interrupt cancels it the same way for another cause (a broken standard output).
//
// SIGPIPE is caught and dropped, never taken for an interrupt: a write to a socket whose server
// died must fail with EPIPE (the run then fails, naming the server), and a write to a broken
// standard output fails with EPIPE too instead of killing pgscale with its servers running
// (guardOutput turns that into an interrupt).
func interruptContext(tracker *harness.Tracker, stderr io.Writer) (context.Context, func(error), func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	pipes := make(chan os.Signal, 1) // never read: Notify drops what does not fit
	signal.Notify(pipes, syscall.SIGPIPE)
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
	return ctx, cancel, func() {
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
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usage.Errorf("%v%s (see %s --help)", err, suggestFlag(cmd, err), cmd.CommandPath())
	})
	root.AddCommand(
		newListCmd(stdout),
		newDescribeCmd(stdout),
		newRunCmd(stdout, stderr, tracker),
		newPrepareCmd(stdout, stderr, tracker),
		newCalibrateCmd(stdout, stderr, tracker),
		newColumnsCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newCompareCmd(stdout, stderr),
		newTimeoutsCmd(stdout, stderr),
		newMergeCmd(stdout, stderr),
		newGateCmd(stdout, stderr, tracker),
		newSizeCmd(stdout, stderr, tracker),
		newCleanCmd(stdout, stderr),
		newVersionCmd(stdout),
	)
	root.SuggestionsMinimumDistance = 2
	quietEmptyDefaults(root)
	return root
}

// unknownCommand turns cobra's unknown-command error, which spans lines, into a one-line usage
// error with its suggestion.
func unknownCommand(err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "unknown command ") {
		return err
	}
	first, rest, _ := strings.Cut(err.Error(), "\n")
	var names []string
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasSuffix(l, "?") {
			names = append(names, fmt.Sprintf("%q", l))
		}
	}
	if len(names) > 0 {
		first += " (did you mean " + strings.Join(names, " or ") + "?)"
	}
	return usage.Errorf("%s; pgscale --help lists the commands", first)
}

// suggestFlag is " (did you mean "--workers"?)" for an unknown flag close to one of cmd's, or "".
func suggestFlag(cmd *cobra.Command, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return ""
	}
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return suggest.DidYouMeanAs(name, names, "--")
}

// quietEmptyDefaults keeps --help from printing "(default [])" for list flags that start empty.
func quietEmptyDefaults(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch f.Value.Type() {
		case "stringArray", "stringSlice", "intSlice":
			// pflag leaves out their "[]" itself.
		default:
			if f.DefValue == "[]" {
				f.DefValue = ""
			}
		}
	})
	for _, c := range cmd.Commands() {
		quietEmptyDefaults(c)
	}
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
			return usage.Errorf("%s: %v", cmd.CommandPath(), err)
		}
		return nil
	}
}
