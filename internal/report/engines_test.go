package report

import (
	"strings"
	"testing"
)

// TestEnginesNote: summary.md and report.md say under their series tables which load engine ran
// each series, and why, in one sentence when one answer covers every series.
func TestEnginesNote(t *testing.T) {
	t.Parallel()
	mux := &Series{Variant: "prepared", Engine: "mux", EngineWhy: "closed loop, plaintext connections"}
	paced := &Series{Variant: "simple", Engine: "goroutines", EngineWhy: "the load is paced"}
	chosen := &Series{Variant: "simple", Engine: "goroutines"}
	group := func(variant string, repeats ...*Series) *Group { return &Group{Variant: variant, Repeats: repeats} }
	cases := []struct {
		name string
		in   []*Group
		want string
	}{
		{"none says", []*Group{group("prepared", &Series{})}, ""},
		{"one for all, repeats too", []*Group{group("prepared", mux, mux)},
			"Engine: mux (auto: closed loop, plaintext connections)."},
		{"two", []*Group{group("prepared", mux), group("simple", paced)},
			"Engines: prepared: mux (auto: closed loop, plaintext connections); simple: goroutines (auto: the load is paced)."},
		{"chosen by the user", []*Group{group("simple", chosen)}, "Engine: goroutines."},
		{"one of two says", []*Group{group("prepared", mux), group("other", &Series{})},
			"Engines: prepared: mux (auto: closed loop, plaintext connections)."},
	}
	for _, c := range cases {
		if got := enginesNote(c.in); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}

	r := scriptResult(t, "a", 1)
	if md := Markdown(r); !strings.Contains(md, "\nEngine: mux (auto: closed loop).\n") {
		t.Errorf("summary.md lacks the engine:\n%s", md)
	}
	doc, err := NewDocument([]*Result{r}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if md := doc.Markdown(); strings.Count(md, "Engine: mux (auto: closed loop).") != 1 {
		t.Errorf("report.md should say the engine once:\n%s", md)
	}
}
