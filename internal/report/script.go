package report

import (
	"fmt"
	"sort"
	"strings"
)

// Breakdown is the scripts and statements of a group's repeats, merged: counts add up, and the
// latency comes from the merged histograms (the median of the repeats' percentiles where one has
// none).
type Breakdown struct {
	Scripts    []ScriptStats
	Statements []StatementStats
}

// BreakdownOf merges the scripts and statements of series (the repeats of one variant and point),
// matching scripts by name and statements by label. It is empty when no series has any.
func BreakdownOf(series []*Series) Breakdown {
	var b Breakdown
	scriptAt := map[string]int{}
	stmtAt := map[string]int{}
	scriptHists := map[int][]string{}
	stmtHists := map[int][]string{}
	scriptPcts := map[int][]Percentiles{}
	stmtPcts := map[int][]Percentiles{}
	for _, s := range series {
		for _, sc := range s.Scripts {
			i, ok := scriptAt[sc.Name]
			if !ok {
				i = len(b.Scripts)
				scriptAt[sc.Name] = i
				b.Scripts = append(b.Scripts, ScriptStats{Name: sc.Name, Weight: sc.Weight})
			}
			t := &b.Scripts[i]
			t.Transactions += sc.Transactions
			t.Errors = addCounts(t.Errors, sc.Errors)
			t.Retries = addCounts(t.Retries, sc.Retries)
			scriptHists[i] = append(scriptHists[i], sc.Histogram)
			scriptPcts[i] = append(scriptPcts[i], sc.LatencyMs)
		}
		for _, st := range s.Statements {
			i, ok := stmtAt[st.Label]
			if !ok {
				i = len(b.Statements)
				stmtAt[st.Label] = i
				script := st.Script
				if script >= 0 && script < len(s.Scripts) {
					script = scriptAt[s.Scripts[script].Name]
				}
				b.Statements = append(b.Statements, StatementStats{Script: script, Label: st.Label})
			}
			t := &b.Statements[i]
			t.Count += st.Count
			t.Errors = addCounts(t.Errors, st.Errors)
			stmtHists[i] = append(stmtHists[i], st.Histogram)
			stmtPcts[i] = append(stmtPcts[i], st.LatencyMs)
		}
	}
	for i := range b.Scripts {
		b.Scripts[i].LatencyMs, b.Scripts[i].Histogram = mergePercentiles(scriptHists[i], scriptPcts[i])
	}
	for i := range b.Statements {
		b.Statements[i].LatencyMs, b.Statements[i].Histogram = mergePercentiles(stmtHists[i], stmtPcts[i])
	}
	return b
}

// mergePercentiles merges encoded histograms; with one missing it takes the median of pcts.
func mergePercentiles(hists []string, pcts []Percentiles) (Percentiles, string) {
	if len(pcts) == 1 {
		return pcts[0], hists[0]
	}
	merged := NewHistogram()
	for _, enc := range hists {
		h, err := DecodeHistogram(enc)
		if enc == "" || err != nil {
			return medianPercentiles(pcts), ""
		}
		merged.Merge(h)
	}
	enc, _ := EncodeHistogram(merged)
	return PercentilesOf(merged), enc
}

func medianPercentiles(pcts []Percentiles) Percentiles {
	pick := func(f func(Percentiles) float64) float64 {
		xs := make([]float64, len(pcts))
		for i, p := range pcts {
			xs[i] = f(p)
		}
		return median(xs)
	}
	out := Percentiles{
		P50: pick(func(p Percentiles) float64 { return p.P50 }), P90: pick(func(p Percentiles) float64 { return p.P90 }),
		P99: pick(func(p Percentiles) float64 { return p.P99 }), P999: pick(func(p Percentiles) float64 { return p.P999 }),
		Max: pick(func(p Percentiles) float64 { return p.Max }), Mean: pick(func(p Percentiles) float64 { return p.Mean }),
	}
	for _, p := range pcts {
		out.Count += p.Count
	}
	return out
}

func addCounts(dst, src map[string]int64) map[string]int64 {
	for k, v := range src {
		if dst == nil {
			dst = map[string]int64{}
		}
		dst[k] += v
	}
	return dst
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Empty tells whether there is nothing to break down.
func (b Breakdown) Empty() bool { return len(b.Scripts) == 0 && len(b.Statements) == 0 }

// ScriptHeader and ScriptRows are the per-script table: share is the script's part of the
// committed transactions, beside the part its weight asked for.
func (b Breakdown) ScriptHeader() []string {
	return []string{"script", "weight", "transactions", "share", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "failed", "retried"}
}

// ScriptRows are the rows of the per-script table.
func (b Breakdown) ScriptRows() [][]string {
	var total int64
	var weights int
	for _, s := range b.Scripts {
		total += s.Transactions
		weights += s.Weight
	}
	rows := make([][]string, 0, len(b.Scripts))
	for _, s := range b.Scripts {
		share := "-"
		if total > 0 {
			share = fmt.Sprintf("%.1f%% (%.1f%%)", 100*float64(s.Transactions)/float64(total), 100*float64(s.Weight)/float64(weights))
		}
		rows = append(rows, []string{s.Name, fmt.Sprint(s.Weight), fmt.Sprint(s.Transactions), share,
			fmtMs(s.LatencyMs.P50), fmtMs(s.LatencyMs.P99), fmtMs(s.LatencyMs.P999), fmtMs(s.LatencyMs.Max),
			ErrorString(s.Errors), ErrorString(s.Retries)})
	}
	return rows
}

// StatementHeader and StatementRows are the per-statement table, in script order.
func (b Breakdown) StatementHeader() []string {
	return []string{"statement", "count", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors"}
}

// StatementRows are the rows of the per-statement table.
func (b Breakdown) StatementRows() [][]string {
	rows := make([][]string, 0, len(b.Statements))
	for _, s := range b.Statements {
		rows = append(rows, []string{s.Label, fmt.Sprint(s.Count), fmtMs(s.LatencyMs.P50), fmtMs(s.LatencyMs.P99),
			fmtMs(s.LatencyMs.P999), fmtMs(s.LatencyMs.Max), ErrorString(s.Errors)})
	}
	return rows
}

// Slowest returns up to n statements with the highest p99, slowest first.
func (b Breakdown) Slowest(n int) []StatementStats {
	out := make([]StatementStats, 0, len(b.Statements))
	for _, s := range b.Statements {
		if s.Count > 0 {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LatencyMs.P99 > out[j].LatencyMs.P99 })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func fmtMs(v float64) string { return fmt.Sprintf("%.3f", v) }

// breakdownText writes the per-script and per-statement tables of each series that has them,
// for the console summary.
func breakdownText(b *strings.Builder, r *Result) {
	for i := range r.Series {
		s := &r.Series[i]
		if len(s.Scripts) == 0 && len(s.Statements) == 0 {
			continue
		}
		bd := BreakdownOf([]*Series{s})
		fmt.Fprintf(b, "\n%s %s", s.Variant, PointString(s.Point))
		if s.Repeat > 1 {
			fmt.Fprintf(b, " #%d", s.Repeat)
		}
		b.WriteString(":\n")
		if e := EngineLine(s); e != "" {
			fmt.Fprintf(b, "  %s\n", e)
		}
		textTable(b, bd.ScriptHeader(), bd.ScriptRows())
		b.WriteString("\n")
		textTable(b, bd.StatementHeader(), bd.StatementRows())
	}
}

// textTable writes a fixed-width table: the first column left-aligned, the others right.
func textTable(b *strings.Builder, header []string, rows [][]string) {
	t := table{align: "l", indent: "  ", maxFirst: 60, header: header, rows: rows}
	t.write(b)
}

// breakdownMarkdown writes the per-script and per-statement tables of each group of run that has
// them, under heading level h.
func breakdownMarkdown(b *strings.Builder, h string, run *Run) {
	for _, g := range run.Groups {
		bd := BreakdownOf(g.Repeats)
		if bd.Empty() {
			continue
		}
		title := ""
		if len(run.Groups) > 1 {
			title = " — " + g.Label()
		}
		fmt.Fprintf(b, "%s Scripts%s\n\n", h, title)
		mdTable(b, bd.ScriptHeader(), bd.ScriptRows(), 1)
		b.WriteString("\nshare: the script's part of the committed transactions (the part its weight asks for).\n\n")
		fmt.Fprintf(b, "%s Statements%s\n\n", h, title)
		mdTable(b, bd.StatementHeader(), bd.StatementRows(), 1)
		b.WriteString("\nLatency of each SQL command that succeeded; errors by SQLSTATE.\n\n")
	}
}
