package sizing

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/columns"
)

// writeColumns writes a `pgscale columns --json` output with the given tables.
func writeColumns(t *testing.T, dir, schema string, tables ...columns.TableReport) string {
	t.Helper()
	data, err := json.Marshal(columns.Report{Schema: schema, Tables: tables})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "columns.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestColumnsSavingsShrinkStorage(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	dir := t.TempDir()
	// 10 GiB of the 100 GiB database saved by reordering two tables.
	path := writeColumns(t, dir, columns.ReportSchema,
		columns.TableReport{Table: "public.events", TotalBytes: 60 << 30, SavingBytes: 8 << 30},
		columns.TableReport{Table: "public.users", TotalBytes: 20 << 30, SavingBytes: 2 << 30})
	base := "requests: {peak_rate: 100, hold_time: 10ms}\ndata: {size: 100GB, growth_per_month: 10GB, horizon_months: 10, bloat: 0}\n"
	plain := NewDemand(resolve(t, cat, base), ModeDirect)
	w := resolve(t, cat, strings.Replace(base, "bloat: 0}", "bloat: 0, columns: "+path+"}", 1))
	saved := NewDemand(w, ModeDirect)
	if plain.StorageGiB != 200 || saved.StorageGiB != 180 {
		t.Errorf("storage %g GiB without and %g with the columns output; want 200 and 180 (10%% saved)", plain.StorageGiB, saved.StorageGiB)
	}
	if !strings.Contains(saved.StorageText, "column reorder: 10 GiB of 2 tables") {
		t.Errorf("storage text does not state the saving: %s", saved.StorageText)
	}

	// Without data.size, the tables are the data.
	w = resolve(t, cat, "requests: {peak_rate: 100, hold_time: 10ms}\ndata: {bloat: 0, columns: "+path+"}\n")
	if d := NewDemand(w, ModeDirect); d.StorageGiB != 70 {
		t.Errorf("from the tables alone: %g GiB, want 80 − 10 = 70", d.StorageGiB)
	}

	// Bad columns files are usage errors naming the file and what is valid.
	wrong := writeColumns(t, t.TempDir(), "pgscale.result/v1")
	for _, c := range []struct{ doc, want string }{
		{"data: {columns: " + wrong + "}", `has schema "pgscale.result/v1"; want pgscale.columns/v1`},
		{"data: {columns: " + filepath.Join(dir, "none.json") + "}", "data.columns: "},
		{"data: {size: 5GB, columns: " + path + "}", "saves 10 GiB, more than data.size 5GB"},
	} {
		s, err := DecodeWorkload([]byte("requests: {peak_rate: 100, hold_time: 10ms}\n"+c.doc+"\n"), "test")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Resolve(cat)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a usage error containing %q", c.doc, err, c.want)
		}
	}
}

func TestWriteFilesIsSelfContained(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	s, err := ParseWorkload(filepath.Join("testdata", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Resolve(cat)
	if err != nil {
		t.Fatal(err)
	}
	// A workload name with markup must come out as text.
	w.Name = `seed <script>alert(1)</script>`
	r := Size(w, cat)
	dir := t.TempDir()
	if err := WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{MarkdownFile, HTMLFile, JSONFile, PlotName + ".png", PlotName + ".svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	png, _ := os.ReadFile(filepath.Join(dir, PlotName+".png"))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("the plot is not a PNG")
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if !strings.Contains(string(md), "![Capacity against price]("+PlotName+".png)") {
		t.Error("size.md does not show the plot")
	}
	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	html := string(page)
	for _, want := range []string{"Content-Security-Policy", `src="data:image/png;base64,`, "<table>", "db-n1-standard-2",
		`style="text-align:right"`, "&lt;script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("size.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", `src="http`, `href="http`, PlotName + ".png\""} {
		if strings.Contains(html, bad) {
			t.Errorf("size.html has %q: not self-contained or not escaped", bad)
		}
	}
}
