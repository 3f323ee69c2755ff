package report

import (
	"gonum.org/v1/plot/plotter"

	"github.com/pgscale/pgscale/result"
)

// deadTupleColumns are the timeline columns of a scenario that watches its tables every second
// (the queue's n_dead_tup per table), with their legend names.
var deadTupleColumns = []struct{ column, name string }{
	{result.ColumnQueueDeadTuples, "queue table"},
	{result.ColumnTaskDeadTuples, "task table"},
}

// deadTuplePanel draws the tables' dead tuples over time, or returns nil when the timeline has
// none: vacuum's work, or the lack of it while a long transaction holds the xmin horizon.
func deadTuplePanel(tl []Second, label string, warmEnd float64) (*panel, error) {
	pn := newPanel("Dead tuples (n_dead_tup): "+label, "time since start (s)", "dead tuples")
	drawn := false
	for i, c := range deadTupleColumns {
		var xys plotter.XYs
		for _, sec := range tl {
			if v, ok := sec.Extra[c.column]; ok {
				xys = append(xys, plotter.XY{X: float64(sec.T) - 0.5, Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		if err := pn.line(c.name, xys, i, false); err != nil {
			return nil, err
		}
		drawn = true
	}
	if !drawn {
		return nil, nil
	}
	if warmEnd > 0 {
		pn.p.Add(&band{x0: 0, x1: warmEnd, color: warmupColor})
	}
	headroom(pn.p)
	return pn, nil
}
