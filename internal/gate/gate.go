// Package gate is pgscale's CI performance gate: a gate file (pgscale.gate.yaml) names a suite
// of scenarios and the checks their results must hold; the gate runs the suite several times,
// holds the checks, and says pass (exit 0), regression (1), bad configuration (2) or could not
// run (3), with the figures behind each check in a table, gate.md and junit.xml.
//
// # Checks
//
// A check is one line: a series of the suite, a colon, and an expression.
//
//	select-only variant=prepared: throughput_per_s > 1000
//	connect-storm variant=pooled: errors.53300 == 0
//	ingest variant=copy batch=1000: max(latency_ms.p99) < 50
//	select-only variant=prepared: latency_ms.p99 may rise 10%
//	select-only variant=prepared: throughput_per_s may fall 5%
//
// The series is a suite entry's name (its scenario unless name: says otherwise) and key=value
// pairs over variant and the point's parameters; a selector that matches several series makes
// one check per series. Fields are throughput_per_s, latency_ms.p50/p90/p99/p999/max/mean,
// errors (every class), errors.<class> (a SQLSTATE or a client class; a class never seen counts
// 0), and metrics.<name> or a bare metric name (claim_p99_ms, rows_per_s).
//
// An absolute check compares an aggregate over the repeats with a number using < <= > >= == or
// !=. The aggregate is the median, except for error counts, where it is the worst repeat (max),
// so that `errors == 0` means no error in any repeat; median(), mean(), min() or max() around the
// field choose another.
//
// A relative check compares the repeats with the baseline's: "may rise N%" fails when the
// median rose by more than N% and "may fall N%" when it fell by more than N%, and in both cases
// only when a Mann-Whitney U test (golang.org/x/perf/benchmath.AssumeNothing) over the per-repeat
// values finds the difference significant at alpha (0.05 unless the gate file says otherwise).
// A change beyond the limit that is not significant passes with a note; a significant change
// within the limit passes.
//
// # Machine noise
//
// With calibrate: true every repeat also runs a short select-only calibration (prepared
// lookups, 4 workers, 2 s, on a server of its own, without the suite's injected latency) just
// before the suite's entries, and relative checks compare normalised figures: for repeat r,
// a rate (throughput_per_s, any metric ending in _per_s) is divided by the calibration's
// lookups/s of repeat r, and a time (latency_ms.*, any metric ending in _ms) is multiplied by
// it. Counts (errors) and other metrics are compared as measured. A machine 20% slower
// throughout lowers both the suite's throughput and the calibration's by 20%, and the ratio
// stays. Absolute checks always use the figures as measured: their thresholds have units.
// The report says how far the calibration moved between the baseline and now.
//
// # Baselines
//
// A baseline is a directory of result files (results/baselines/gate by default): <entry>.json
// per suite entry, holding every repeat as the series' repeat numbers, and calibration.json. They
// are ordinary pgscale results, so `pgscale compare` and `pgscale report` read them too.
// --update-baseline writes the run's results there after a passing run. A baseline of another
// scenario, other parameters or other run lengths is a configuration error.
package gate
