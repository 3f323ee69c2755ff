package sizing

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// Ceiling is a capacity result (pgscale run --capacity) read as the measured ceiling of the
// server it ran on: on a docker target with --shape, of that shape.
type Ceiling struct {
	File      string            `json:"file"`
	RunID     string            `json:"run_id"`
	Scenario  string            `json:"scenario"`
	Series    string            `json:"series"` // variant and point, the rate left out
	Target    string            `json:"target"`
	Shape     string            `json:"shape,omitempty"`
	CPUs      float64           `json:"cpus,omitempty"` // the shape's, else the server's host's
	MemoryMB  string            `json:"memory_mb,omitempty"`
	RatePerS  float64           `json:"rate_per_s"`
	Unit      string            `json:"unit"`
	SLO       string            `json:"slo"`
	BrokenAt  *float64          `json:"broken_at_per_s,omitempty"`
	Diagnosis *result.Diagnosis `json:"diagnosis,omitempty"`
	Sentence  string            `json:"sentence"`
}

// ReadCeiling reads path as a capacity result; ok is false when it is a result without a
// capacity search (size then reads it as a connect-storm result).
func ReadCeiling(path string) (c *Ceiling, ok bool, err error) {
	res, err := result.ReadFile(path)
	if err != nil {
		return nil, false, usagef("--result: %v", err)
	}
	if res.Capacity == nil {
		return nil, false, nil
	}
	if res.Status != result.StatusOK {
		reason := res.Reason
		if reason == "" {
			reason = "it did not finish"
		}
		return nil, true, usagef("--result %s is a capacity search with status %s (%s); size from one that finished ok", displayPath(path), res.Status, reason)
	}
	capa := res.Capacity
	c = &Ceiling{File: displayPath(path), RunID: res.RunID, Scenario: res.Scenario, Target: res.Environment.Target,
		RatePerS: capa.RatePerS, Unit: capa.Unit, SLO: capa.SLO, BrokenAt: capa.BrokenAtPerS, Diagnosis: capa.Diagnosis,
		Sentence: capa.Sentence}
	if len(res.Series) > 0 {
		s := res.Series[0]
		point := map[string]any{}
		for k, v := range s.Point {
			if k != "rate_per_s" {
				point[k] = v
			}
		}
		c.Series = strings.TrimSpace(s.Variant + " " + report.PointString(point))
	}
	d := res.Environment.TargetDetail
	c.Shape, c.MemoryMB = d["shape"], d["shape_memory_mb"]
	if r := res.Environment.Resources; r != nil {
		c.CPUs = r.ServerCPUs
	}
	return c, true, nil
}

// Text is the ceiling in a few lines.
func (c *Ceiling) Text() string {
	var b strings.Builder
	where := fmt.Sprintf("the %s target", c.Target)
	if c.Shape != "" {
		where = fmt.Sprintf("shape %s (%g CPU, %s MiB)", c.Shape, c.CPUs, c.MemoryMB)
	} else if c.CPUs > 0 {
		where += fmt.Sprintf(" (%g CPUs, no --shape: the host's, shared with the load generator)", c.CPUs)
	}
	fmt.Fprintf(&b, "measured ceiling of %s: %s %s of %s %s at %s\n", where, formatRate(c.RatePerS), c.Unit, c.Scenario, c.Series, c.SLO)
	if c.Diagnosis != nil && c.BrokenAt != nil {
		fmt.Fprintf(&b, "past it (%s %s): %s bound: %s\n", formatRate(*c.BrokenAt), c.Unit, report.BoundLabel(c.Diagnosis.Bound), c.Diagnosis.Evidence)
		if c.Diagnosis.Floor {
			b.WriteString("the client side gave out first (the load generator, or a host busy with other work): the shape carries at least this much\n")
		}
	}
	fmt.Fprintf(&b, "from %s (run %s)\n", c.File, c.RunID)
	return b.String()
}

// JSON is the ceiling as indented JSON.
func (c *Ceiling) JSON() string {
	data, _ := json.MarshalIndent(c, "", "  ")
	return string(data) + "\n"
}

func formatRate(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
