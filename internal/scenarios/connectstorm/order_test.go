package connectstorm

import (
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
)

// pooled runs last on each server, whatever order variants lists: its pooler's server
// connections outlive it and would refuse the variants after it.
func TestPooledRunsLastOnEachServer(t *testing.T) {
	t.Parallel()
	s := &scenario{}
	params, err := scenarios.ResolveParams(s.Doc(), map[string]string{
		"variants": "pooled,cold,retry-batch", "workers": "25,50", "max_connections": "100,200"}, false)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := s.Plan(params)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pt := range plan.Points {
		got = append(got, pt.Variant)
	}
	want := []string{"cold", "cold", "retry-batch", "retry-batch", "pooled", "pooled"}
	for i, v := range got {
		if v != want[i%len(want)] {
			t.Fatalf("order %v, want %v on each server", got, want)
		}
	}
}
