package sizing

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pgscale/pgscale/internal/columns"
)

// ColumnsSaving is what `pgscale columns` says reordering columns saves, as the storage model
// uses it.
type ColumnsSaving struct {
	File string `json:"file"`
	// Tables is how many tables the output analyzed; TablesBytes their total size (heap, TOAST
	// and indexes) and SavingBytes the heap bytes the proposed orders save.
	Tables      int     `json:"tables"`
	TablesBytes float64 `json:"tables_bytes"`
	SavingBytes float64 `json:"saving_bytes"`
	// Fraction is SavingBytes over the data size: the share of the data, and of its growth,
	// that the reorder saves (growth is assumed to keep today's mix of tables).
	Fraction float64 `json:"fraction"`
}

// readColumns reads a `pgscale columns --json` output.
func readColumns(path string) (*ColumnsSaving, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("data.columns: %s: %v", displayPath(path), unwrapPath(err))
	}
	var r columns.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, usagef("data.columns: %s is not JSON (%v); give the output of `pgscale columns --json`", displayPath(path), err)
	}
	if r.Schema != columns.ReportSchema {
		return nil, usagef("data.columns: %s has schema %q; want %s, the output of `pgscale columns --json`",
			displayPath(path), r.Schema, columns.ReportSchema)
	}
	if len(r.Tables) == 0 {
		return nil, usagef("data.columns: %s analyzed no tables", displayPath(path))
	}
	c := &ColumnsSaving{File: displayPath(path), Tables: len(r.Tables)}
	for _, t := range r.Tables {
		if t.SavingBytes < 0 {
			return nil, usagef("data.columns: %s: table %s has a negative saving (%g bytes)", displayPath(path), t.Table, t.SavingBytes)
		}
		c.TablesBytes += float64(t.TotalBytes)
		c.SavingBytes += t.SavingBytes
	}
	if c.TablesBytes <= 0 {
		return nil, usagef("data.columns: %s: its tables are empty (total_bytes 0); nothing to size from", displayPath(path))
	}
	return c, nil
}

// columnsText states the saving in the storage arithmetic.
func (c *ColumnsSaving) text() string {
	return fmt.Sprintf("(1 − %s column reorder: %s of %d tables, pgscale columns)", pct1(c.Fraction), mibText(c.SavingBytes/mib), c.Tables)
}

// pct1 is a percentage with one decimal when it is small.
func pct1(x float64) string {
	if x < 0.1 {
		return fmt.Sprintf("%.1f%%", x*100)
	}
	return pct(x)
}
