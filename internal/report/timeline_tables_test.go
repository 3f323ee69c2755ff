package report

import "testing"

func TestDeadTuplePanelOnlyWithTheColumns(t *testing.T) {
	t.Parallel()
	plain := []Second{{T: 1, Ops: 10}, {T: 2, Ops: 12}}
	if pn, err := deadTuplePanel(plain, "x", 0); err != nil || pn != nil {
		t.Fatalf("timeline without dead tuples: panel %v, error %v; want none", pn, err)
	}
	watched := []Second{
		{T: 1, Warmup: true, Extra: map[string]float64{"queue_dead_tuples": 100, "task_dead_tuples": 50}},
		{T: 2, Extra: map[string]float64{"queue_dead_tuples": 900, "task_dead_tuples": 800}},
	}
	pn, err := deadTuplePanel(watched, "x", 1)
	if err != nil || pn == nil {
		t.Fatalf("timeline with dead tuples: panel %v, error %v; want one", pn, err)
	}
	if pn.p.Title.Text != "Dead tuples (n_dead_tup): x" {
		t.Errorf("panel title %q", pn.p.Title.Text)
	}
}
