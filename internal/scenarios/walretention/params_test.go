package walretention

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/internal/usage"
)

// TestBadInputIsAUsageError: each bad value gets a usage error that names it and what is valid,
// before anything starts.
func TestBadInputIsAUsageError(t *testing.T) {
	t.Parallel()
	for set, want := range map[string]string{
		"quota=abc":           "--set quota=abc: not a size; give a number and a unit, e.g. 256MB, 50GB (kB, MB, GB, TB; at most 1024TB)",
		"disk=50":             "--set disk=50: not a size",
		"quota=-5GB":          "--set quota=-5GB: not a size",
		"quota=NaNMB":         "--set quota=NaNMB: not a size",
		"disk=InfGB":          "--set disk=InfGB: not a size",
		"disk=2000TB":         "--set disk=2000TB: not a size",
		"keep_size=10.5MB":    "--set keep_size=10.5MB: give a whole number of MB",
		"max_wal_size=16MB":   "--set max_wal_size=16MB: must be at least 32MB",
		"slot=sideways":       "--set slot=sideways: valid values are logical, physical",
		"write_mb_s=-1":       "--set write_mb_s=-1: must be at least 0",
		"variants=some-slot":  `did you mean "no-slot"?`,
		"keep_size=1GB":       "",
		"quota=1.5TB":         "",
		"max_wal_size=1024MB": "",
	} {
		name, value, _ := strings.Cut(set, "=")
		_, err := runner.Prepare(runner.Options{Scenario: Name, Target: harness.KindLocal, Out: t.TempDir(), Repeat: 1,
			Sets: map[string]string{name: value}}, time.Now())
		var usage *usage.Error
		switch {
		case want == "" && err != nil:
			t.Errorf("--set %s: %v; want it accepted", set, err)
		case want == "":
		case err == nil || !errors.As(err, &usage):
			t.Errorf("--set %s: %v; want a usage error", set, err)
		case !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n"):
			t.Errorf("--set %s: %q; want one line with %q", set, err, want)
		}
	}
}

// TestFillArithmetic is the sum a user applies to their own disk: at 5 MB/s of WAL, 50 GB lasts
// 2.8 hours.
func TestFillArithmetic(t *testing.T) {
	t.Parallel()
	disk, ok := parseSize("50GB")
	if !ok {
		t.Fatal("50GB did not parse")
	}
	f := figures{walRateMBs: 5}
	if got := formatSpan(f.fillSeconds(disk / mib)); got != "2.8 hours" {
		t.Errorf("50 GB at 5 MB/s lasts %s, want 2.8 hours", got)
	}
	if got := formatSpan(f.fillSeconds(256)); got != "51 s" {
		t.Errorf("256 MB at 5 MB/s lasts %s, want 51 s", got)
	}
	if got := formatMB(disk / mib); got != "50 GB" {
		t.Errorf("formatMB(50 GB) = %s", got)
	}
}
