package columns

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Report is the --json output: one entry per table analyzed.
type Report struct {
	Schema string        `json:"schema"`
	Tables []TableReport `json:"tables"`
}

// ReportSchema names the --json format.
const ReportSchema = "pgscale.columns/v1"

// TableReport is one table in the --json output.
type TableReport struct {
	Table      string  `json:"table"`
	Rows       float64 `json:"rows"`
	RowsSource string  `json:"rows_source"` // reltuples | estimated
	HeapBytes  int64   `json:"heap_bytes"`
	ToastBytes int64   `json:"toast_bytes"`
	IndexBytes int64   `json:"index_bytes"`
	TotalBytes int64   `json:"total_bytes"`
	// CurrentBytesPerRow and ProposedBytesPerRow are the model's heap bytes per row.
	CurrentBytesPerRow  float64        `json:"current_bytes_per_row"`
	ProposedBytesPerRow float64        `json:"proposed_bytes_per_row"`
	MeasuredBytesPerRow float64        `json:"measured_bytes_per_row,omitempty"` // pg_relation_size ÷ rows
	Current             Estimate       `json:"current"`
	Proposed            Estimate       `json:"proposed"`
	ProposedOrder       []string       `json:"proposed_order"`
	SavingBytesPerRow   float64        `json:"saving_bytes_per_row"`
	SavingBytes         float64        `json:"saving_bytes"`
	SavingPct           float64        `json:"saving_pct"`
	Columns             []ColumnReport `json:"columns"`
	DDL                 string         `json:"ddl"`
	Notes               []string       `json:"notes,omitempty"`
	Verify              *Verification  `json:"verify,omitempty"`
}

// ColumnReport is one column in the --json output, in the current order.
type ColumnReport struct {
	Column
	Position         int     `json:"position"`
	ProposedPosition int     `json:"proposed_position,omitempty"`
	PaddingBefore    float64 `json:"padding_before"`
}

// NewReport turns analyses into the --json output.
func NewReport(as []*Analysis) Report {
	r := Report{Schema: ReportSchema, Tables: []TableReport{}}
	for _, a := range as {
		r.Tables = append(r.Tables, a.report())
	}
	return r
}

func (a *Analysis) report() TableReport {
	t := a.Table
	tr := TableReport{
		Table: t.Display(), Rows: math.Round(a.Rows), RowsSource: "reltuples",
		HeapBytes: t.HeapBytes, ToastBytes: t.ToastBytes, IndexBytes: t.IndexBytes, TotalBytes: t.TotalBytes,
		CurrentBytesPerRow: round2(a.Current.HeapBytesPerRow), ProposedBytesPerRow: round2(a.Proposed.HeapBytesPerRow),
		Current: rounded(a.Current), Proposed: rounded(a.Proposed),
		SavingBytesPerRow: round2(a.SavingBytesPerRow), SavingBytes: math.Round(a.SavingBytes), SavingPct: round2(a.SavingPct),
		DDL: a.DDL, Notes: a.Notes, Verify: a.Verify, ProposedOrder: []string{},
	}
	if a.RowsEstimated {
		tr.RowsSource = "estimated"
	} else if a.Rows > 0 && t.HeapBytes > 0 {
		tr.MeasuredBytesPerRow = round2(float64(t.HeapBytes) / a.Rows)
	}
	pos := map[int]int{}
	for i, c := range a.Order {
		tr.ProposedOrder = append(tr.ProposedOrder, c.Name)
		pos[c.Num] = i + 1
	}
	for i, c := range t.Columns {
		cr := ColumnReport{Column: c, Position: i + 1, ProposedPosition: pos[c.Num]}
		cr.NullFrac, cr.AvgWidth = round2(c.nullFrac()), round2(c.width())
		if i < len(a.Current.PadBefore) {
			cr.PaddingBefore = round2(a.Current.PadBefore[i])
		}
		tr.Columns = append(tr.Columns, cr)
	}
	return tr
}

func rounded(e Estimate) Estimate {
	return Estimate{
		HeaderBytes: round2(e.HeaderBytes), NullBitmapRows: round2(e.NullBitmapRows), DataBytes: round2(e.DataBytes),
		PaddingBytes: round2(e.PaddingBytes), TupleBytes: round2(e.TupleBytes), TailBytes: round2(e.TailBytes),
		RowsPerPage: round2(e.RowsPerPage), HeapBytesPerRow: round2(e.HeapBytesPerRow),
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// WriteJSON writes the --json output.
func WriteJSON(w io.Writer, as []*Analysis) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewReport(as)); err != nil {
		return fmt.Errorf("columns: write json: %w", err)
	}
	return nil
}

// WriteText writes the analyses for people: the row layout now and proposed side by side, the
// saving, the columns that carry padding, the proposed order and its DDL.
func WriteText(w io.Writer, as []*Analysis) error {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString("\n")
		}
		a.writeText(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (a *Analysis) writeText(b *strings.Builder) {
	t := a.Table
	rows := fmt.Sprintf("%.0f rows", a.Rows)
	switch {
	case t.HeapBytes == 0 && a.Rows == 0:
		rows = "no rows"
	case a.RowsEstimated:
		rows = fmt.Sprintf("~%.0f rows (estimated)", a.Rows)
	}
	fmt.Fprintf(b, "%s: %d columns", t.Display(), len(t.Live()))
	if d := t.Dropped(); d > 0 {
		fmt.Fprintf(b, " (+%d dropped)", d)
	}
	fmt.Fprintf(b, ", %s, heap %s, TOAST %s, indexes %s\n", rows, humanBytes(float64(t.HeapBytes)),
		humanBytes(float64(t.ToastBytes)), humanBytes(float64(t.IndexBytes)))
	c, p := a.Current, a.Proposed
	fmt.Fprintf(b, "  %-34s %10s %10s\n", "bytes per row (expected)", "now", "proposed")
	line := func(name string, x, y float64) { fmt.Fprintf(b, "  %-34s %10.1f %10.1f\n", name, x, y) }
	line("tuple header + null bitmap", c.HeaderBytes, p.HeaderBytes)
	line("column data", c.DataBytes, p.DataBytes)
	line("alignment padding between columns", c.PaddingBytes, p.PaddingBytes)
	line("tuple (pg_column_size of a row)", c.TupleBytes, p.TupleBytes)
	line("padding to 8 bytes + line pointer", c.TailBytes+itemIDBytes, p.TailBytes+itemIDBytes)
	line("heap per row (with page fill)", c.HeapBytesPerRow, p.HeapBytesPerRow)
	if !a.RowsEstimated && a.Rows > 0 && t.HeapBytes > 0 {
		fmt.Fprintf(b, "  %-34s %10.1f\n", "heap per row measured (size÷rows)", float64(t.HeapBytes)/a.Rows)
	}
	if a.Rows > 0 {
		fmt.Fprintf(b, "  saving: %.1f bytes/row × %s = %s of heap (%.1f%%)\n", a.SavingBytesPerRow, rows,
			humanBytes(a.SavingBytes), a.SavingPct)
	} else {
		fmt.Fprintf(b, "  saving: %.1f bytes/row (%.1f%% of heap)\n", a.SavingBytesPerRow, a.SavingPct)
	}
	var padded []string
	for i, col := range t.Columns {
		if i < len(c.PadBefore) && c.PadBefore[i] >= 0.05 {
			padded = append(padded, fmt.Sprintf("%s (%.1f)", col.Name, c.PadBefore[i]))
		}
	}
	if len(padded) > 0 {
		fmt.Fprintf(b, "  padding now before: %s\n", strings.Join(padded, ", "))
	}
	var order []string
	for _, col := range a.Order {
		order = append(order, col.Name)
	}
	fmt.Fprintf(b, "  proposed order: %s\n", strings.Join(order, ", "))
	for _, n := range a.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
	if v := a.Verify; v != nil {
		fmt.Fprintf(b, "  verify (%d rows, %s):\n", v.SampleRows, v.Method)
		fmt.Fprintf(b, "    %-32s %10s %10s %8s\n", "measured", "now", "proposed", "saving")
		fmt.Fprintf(b, "    %-32s %10.1f %10.1f %7.1f%%\n", "tuple bytes (pg_column_size)", v.CurrentTupleBytes, v.ProposedTupleBytes, v.TupleSavingPct)
		fmt.Fprintf(b, "    %-32s %10.1f %10.1f %7.1f%%\n", "heap bytes per row", v.CurrentRowBytes, v.ProposedRowBytes, v.HeapSavingPct)
		fmt.Fprintf(b, "    %-32s %10s %10s\n", "heap", humanBytes(float64(v.CurrentHeapBytes)), humanBytes(float64(v.ProposedHeapBytes)))
	}
	b.WriteString("  DDL:\n")
	for _, l := range strings.Split(strings.TrimRight(a.DDL, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
}
