package all

import (
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/columnpadding"
	"github.com/pgscale/pgscale/internal/scenarios/ingest"
	"github.com/pgscale/pgscale/internal/scenarios/queue"
	"github.com/pgscale/pgscale/internal/scenarios/walretention"
	"github.com/pgscale/pgscale/result"
)

// TestHeadlines: every headline a scenario declares is well formed, and the scenarios whose
// operation is not what people count declare one.
func TestHeadlines(t *testing.T) {
	want := map[string]string{
		"ingest":         ingest.MetricRowsPerS,
		"queue":          queue.MetricJobsPerS,
		"column-padding": columnpadding.MetricBytesPerRow,
		"connect-storm":  result.HeadlineThroughput,
		"ddl-lock":       result.HeadlineThroughput,
		"select-only":    "",
		"wal-retention":  walretention.MetricPgWALPeakMB,
	}
	for _, name := range scenarios.Names() {
		sc, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		h := sc.Doc().Headline
		got := ""
		if h != nil {
			got = h.Metric
			if err := h.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if w, ok := want[name]; ok && got != w {
			t.Errorf("%s: headline metric %q, want %q", name, got, w)
		}
	}
}
