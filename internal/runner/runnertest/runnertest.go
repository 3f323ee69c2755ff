// Package runnertest runs a scenario from a test as the CLI does: prepared, run and its result
// validated against the schema, any failure failing the test.
package runnertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgscale/pgscale/internal/runner"
	"github.com/pgscale/pgscale/result"
)

// Run prepares and runs opts, and returns a result that validates; an error from either step,
// or a result the schema refuses (as returned, and as written to opts.Out's result.json), fails
// t.
func Run(t testing.TB, opts runner.Options) *result.Result {
	t.Helper()
	p, err := runner.Prepare(opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateResult(res); err != nil {
		t.Fatal(err)
	}
	if opts.Out != "" {
		doc, err := os.ReadFile(filepath.Join(opts.Out, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := result.Validate(doc); err != nil {
			t.Fatalf("%s: %v", filepath.Join(opts.Out, "result.json"), err)
		}
	}
	return res
}

// ByVariant is res's series keyed by their variant (one point each).
func ByVariant(res *result.Result) map[string]result.Series {
	got := make(map[string]result.Series, len(res.Series))
	for _, s := range res.Series {
		got[s.Variant] = s
	}
	return got
}
