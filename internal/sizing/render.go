package sizing

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pgscale/pgscale/internal/report"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode sizing report: %w", err)
	}
	return nil
}

// MarshalJSON is the report as JSON bytes, for writing a file.
func MarshalJSON(r *Report) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode sizing report: %w", err)
	}
	return append(data, '\n'), nil
}

// modeText names a connection mode in prose.
func modeText(mode string) string {
	if mode == ModePooler {
		return "through a pooler"
	}
	return "direct connections"
}

// WriteText writes the report for a terminal: per provider the pick, why, the runners-up, the
// other mode, and how max_connections scales with price.
func WriteText(out io.Writer, r *Report) error {
	w := &errWriter{w: out}
	wl := r.Workload
	w.printf("pgscale size: %s (%s; %s as the alternative)\n", wl.Name, modeText(r.Mode), modeText(r.Alternative))
	w.printf("  requests    %s req/s, held %s, %s in the database, %s CPU\n",
		num(wl.Rate.Value), dur(wl.HoldTimeS.Value), dur(wl.DBTimeS.Value), dur(wl.CPUTimeS.Value))
	if wl.Result != nil {
		w.printf("  measured    %s: %s\n", wl.Result.File, wl.Result.Label)
	}
	d := r.Demand[r.Mode]
	w.printf("  connections %s\n", d.ConnectionsText)
	w.printf("  memory      %s (per connection: %s)\n", d.MemoryText, wl.PerConnectionMiB.Source)
	w.printf("  cpu         %s (CPU per request: %s)\n", d.CPUText, wl.CPUTimeS.Source)
	w.printf("  storage     %s\n", d.StorageText)
	if m := wl.Measurement; m != nil {
		for _, p := range m.Probes {
			w.printf("  measured    %s\n", p.Text)
		}
		if m.Memory != nil {
			w.printf("  measured    memory per backend %s MiB: %s idle backends on %s\n", num(m.Memory.MiB), fmt.Sprint(m.Memory.Backends), m.Memory.Shape)
		}
	}
	w.printf("  headroom    %s: a class passes when every need is at most %s of its capacity\n",
		pct(wl.Headroom.Value), pct(1-wl.Headroom.Value))
	for _, p := range r.Providers {
		w.printf("\n%s (%s)\n", p.Provider, p.Assumptions())
		c := p.Choice
		if c.Pick != nil {
			w.printf("  pick        %s\n", pickLine(c.Pick))
		} else {
			w.printf("  pick        none\n")
		}
		w.printf("  why         %s\n", c.Why)
		if len(c.RunnersUp) > 0 {
			names := make([]string, len(c.RunnersUp))
			for i, e := range c.RunnersUp {
				names[i] = fmt.Sprintf("%s %s (%s %s)", e.Class, money(e.Price), constraintName(e.Binding), pct(1-e.Headroom))
			}
			w.printf("  runners-up  %s\n", strings.Join(names, "; "))
		}
		if p.AlternativeText != "" {
			w.printf("  %-11s %s\n", r.Alternative, p.AlternativeText)
		} else {
			w.printf("  %-11s same class %s\n", r.Alternative, modeText(r.Alternative))
		}
		if p.Scaling.FourTimesText != "" {
			w.printf("  scale up    %s\n", p.Scaling.FourTimesText)
		}
		if p.Scaling.Text != "" {
			w.printf("  budget      %s\n", p.Scaling.Text)
		}
	}
	for i, p := range r.Cheapest() {
		if i == 0 {
			w.printf("\n")
		}
		w.printf("cheapest    %s %s, %s/month (%s)\n", p.Provider, p.Choice.Pick.Class, money(p.Choice.Pick.Price), p.Currency)
	}
	for _, warn := range r.Warnings {
		w.printf("warning: %s\n", warn)
	}
	return w.err
}

func pickLine(e *Evaluation) string {
	return fmt.Sprintf("%s  %s vCPU, %s GiB, max_connections %d  %s/month (instance %s + storage %s)  binding: %s %s",
		e.Class, num(e.VCPU), num(e.MemoryGiB), e.MaxConnections, money(e.Price), money(e.InstancePrice),
		money(e.StoragePrice), constraintName(e.Binding), pct(1-e.Headroom))
}

// WriteMarkdown writes the full report: the workload with each figure's source, the model in
// both modes, the recommendation per provider, every class ranked by price with pass or fail on
// each constraint, and max_connections against price.
func WriteMarkdown(out io.Writer, r *Report) error { return writeMarkdown(out, r, nil) }

// plotRef is the capacity plot as the Markdown shows it: its source (a file name, or a data: URI
// for the HTML) and caption.
type plotRef struct{ src, title, caption string }

func writeMarkdown(out io.Writer, r *Report, fig *plotRef) error {
	w := &errWriter{w: out}
	wl := r.Workload
	w.printf("# Sizing: %s\n\n", wl.Name)
	w.printf("Connection mode: %s (alternative: %s). Headroom: %s — a class passes when every need is at most %s of its capacity.\n\n",
		modeText(r.Mode), modeText(r.Alternative), pct(wl.Headroom.Value), pct(1-wl.Headroom.Value))

	w.printf("## Recommendation\n\n")
	w.printf("| provider | pick | price/month | binding | used | with %s |\n|---|---|--:|---|--:|---|\n", r.Alternative)
	for _, p := range r.Providers {
		c, a := p.Choice, p.Alternative
		alt := "same"
		if a.Pick == nil {
			alt = "none"
		} else if c.Pick == nil || a.Pick.Class != c.Pick.Class {
			alt = fmt.Sprintf("%s (%s)", a.Pick.Class, money(a.Pick.Price))
		}
		if c.Pick == nil {
			w.printf("| %s | none | | | | %s |\n", p.Provider, alt)
			continue
		}
		w.printf("| %s | %s | %s | %s | %s | %s |\n", p.Provider, c.Pick.Class, money(c.Pick.Price),
			constraintName(c.Pick.Binding), pct(1-c.Pick.Headroom), alt)
	}
	w.printf("\n")
	for _, p := range r.Providers {
		w.printf("- **%s**: %s", p.Provider, p.Choice.Why)
		if p.AlternativeText != "" {
			w.printf(" %s", p.AlternativeText)
		}
		w.printf("\n")
	}
	if len(r.Warnings) > 0 {
		w.printf("\n**Warnings**\n\n")
		for _, warn := range r.Warnings {
			w.printf("- %s\n", mdText(warn))
		}
	}
	if fig != nil {
		w.printf("\n![%s](%s)\n\n*%s.* %s\n", fig.title, fig.src, fig.title, fig.caption)
	}

	w.printf("\n## Workload\n\n| figure | value | source |\n|---|--:|---|\n")
	row := func(name, value, source string) { w.printf("| %s | %s | %s |\n", name, value, source) }
	row("peak rate", num(wl.Rate.Value)+" req/s", wl.Rate.Source)
	row("connection held per request", dur(wl.HoldTimeS.Value), wl.HoldTimeS.Source)
	row("time in the database per request", dur(wl.DBTimeS.Value), wl.DBTimeS.Source)
	row("CPU per request", dur(wl.CPUTimeS.Value), wl.CPUTimeS.Source)
	row("connects per request", num(wl.ConnectsPerRequest.Value), wl.ConnectsPerRequest.Source)
	row("CPU per connect", dur(wl.ConnectCPUS.Value), wl.ConnectCPUS.Source)
	if wl.AppInstances > 0 {
		row("application pools", fmt.Sprintf("%d × %d", wl.AppInstances, wl.PoolSize), "given")
	}
	if wl.QueueWorkers > 0 {
		row("queue workers", fmt.Sprint(wl.QueueWorkers), "given")
		row("jobs", fmt.Sprintf("%s/s × %s (CPU %s)", num(wl.JobRate), dur(wl.JobTimeS.Value), dur(wl.JobCPUS.Value)), wl.JobCPUS.Source)
	}
	if wl.IngestRowsPerS > 0 {
		row("ingest", fmt.Sprintf("%s rows/s × %s CPU", num(wl.IngestRowsPerS), dur(wl.CPUPerRowS.Value)), wl.CPUPerRowS.Source)
	}
	row("memory per connection", num(wl.PerConnectionMiB.Value)+" MiB", wl.PerConnectionMiB.Source)
	row("work_mem per active connection", num(wl.WorkMemMiB.Value)+" MiB", wl.WorkMemMiB.Source)
	dataSource := wl.DataSource
	if dataSource == "" {
		dataSource = "not given"
	}
	row("data", fmt.Sprintf("%s GiB + %s GiB/month", num(wl.DataGiB), num(wl.GrowthGiBMonth)), dataSource)
	if c := wl.Columns; c != nil {
		row("column reorder saving", fmt.Sprintf("%s (%s)", mibText(c.SavingBytes/mib), pct1(c.Fraction)),
			fmt.Sprintf("pgscale columns: %s, %d tables of %s; growth assumed to keep today's mix", c.File, c.Tables, mibText(c.TablesBytes/mib)))
	}
	row("horizon", num(wl.HorizonMonths.Value)+" months", wl.HorizonMonths.Source)
	row("bloat / indexes", num(wl.Bloat.Value)+" / "+num(wl.Indexes.Value), wl.Bloat.Source+"; "+wl.Indexes.Source)
	row("extra connections", num(wl.ExtraConnections.Value), wl.ExtraConnections.Source)
	if wl.P99ObjectiveS > 0 {
		row("p99 objective", dur(wl.P99ObjectiveS), "given")
	}
	if wl.MeasuredP99S != nil {
		row("measured p99", dur(wl.MeasuredP99S.Value), wl.MeasuredP99S.Source)
	}
	if wl.Result != nil {
		w.printf("\nMeasured figures come from `%s` (%s, target %s, PostgreSQL %s), series %s %s.\n",
			wl.Result.File, wl.Result.Scenario, wl.Result.Target, wl.Result.Server, wl.Result.Variant, report.PointString(wl.Result.Point))
	}

	if m := wl.Measurement; m != nil {
		writeMeasurement(w, m)
	}

	w.printf("\n## Model\n\n")
	for _, mode := range []string{r.Mode, r.Alternative} {
		d := r.Demand[mode]
		w.printf("**%s**\n\n", upperFirst(modeText(mode)))
		w.printf("- Connections: %s. Compared with max_connections less the provider's reserved slots.\n", d.ConnectionsText)
		w.printf("- Memory: %s.\n", d.MemoryText)
		w.printf("- CPU: %s, against the class's sustained vCPU (burstable classes: their baseline).\n", d.CPUText)
		w.printf("- Storage: %s.\n\n", d.StorageText)
	}

	for _, p := range r.Providers {
		w.printf("## %s — %s, %s\n\n", p.Provider, p.Name, p.Region)
		w.printf("Catalog: %s. Assumptions: %s. Price note: %s.\n\n", p.File, p.Assumptions(), p.PriceNote)
		if p.CatalogNotes != "" {
			w.printf("%s\n\n", p.CatalogNotes)
		}
		writeRanked(w, p.Choice)
		w.printf("\n### max_connections against price\n\n")
		w.printf("Each class that raises max_connections over every cheaper one:\n\n")
		w.printf("| class | memory GiB | max_connections | instance/month |\n|---|--:|--:|--:|\n")
		for _, s := range p.Scaling.Frontier {
			w.printf("| %s | %s | %d | %s |\n", s.Class, num(s.MemoryGiB), s.MaxConnections, money(s.Price))
		}
		for _, t := range []string{p.Scaling.FourTimesText, p.Scaling.Text} {
			if t != "" {
				w.printf("\n%s\n", t)
			}
		}
		w.printf("\n")
	}

	w.printf("## Notes\n\n")
	for _, n := range r.Notes {
		w.printf("- %s\n", n)
	}
	return w.err
}

// writeRanked is a provider's classes by price with each constraint's status.
func writeRanked(w *errWriter, c *Choice) {
	w.printf("Every class by price, %s (✓ within the headroom, ~ tight, ✗ short):\n\n", modeText(c.Mode))
	w.printf("| class | vCPU | GiB | max_conn | connections | memory | CPU | storage | headroom | price/month | |\n")
	w.printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, e := range c.Ranked {
		mark := ""
		switch {
		case c.Pick != nil && e.Class == c.Pick.Class:
			mark = "**pick**"
		case isRunnerUp(c, e.Class):
			mark = "runner-up"
		}
		vcpu := num(e.VCPU)
		if e.SustainedVCPU < e.VCPU {
			vcpu = fmt.Sprintf("%s (%s)", num(e.VCPU), num(e.SustainedVCPU))
		}
		w.printf("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", e.Class, vcpu, num(e.MemoryGiB),
			e.MaxConnections, cell(e.Check(Connections)), cell(e.Check(Memory)), cell(e.Check(CPU)), cell(e.Check(Storage)),
			headroomCell(e), money(e.Price), mark)
	}
}

// headroomCell is what the binding constraint leaves free, or "–" when a need exceeds its capacity.
func headroomCell(e Evaluation) string {
	if e.Headroom < 0 {
		return "–"
	}
	return pct(e.Headroom)
}

func isRunnerUp(c *Choice, class string) bool {
	for _, e := range c.RunnersUp {
		if e.Class == class {
			return true
		}
	}
	return false
}

func cell(c Check) string {
	sym := map[string]string{StatusOK: "✓", StatusTight: "~", StatusFail: "✗"}[c.Status]
	return fmt.Sprintf("%s %s", sym, pct(c.Util))
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

// writeMeasurement is the --measure section: each probe's throughput per shape, its fit, and
// the memory per backend.
func writeMeasurement(w *errWriter, m *Measurement) {
	w.printf("\n## Measured on container shapes (--measure)\n\n")
	w.printf("Image %s on %s; %s per point after a warm-up, %d round(s) over the shapes, each shape keeping its best round. "+
		"The load generator runs on the same host and needs about one core, so the shapes stay below the host's cores. "+
		"Result files: `%s`.\n\n", m.Image, m.Host, m.Duration, m.Rounds, m.Dir)
	w.printf("| probe | shape | vCPU | ops/s (best) | rounds | p99 ms | errors | in the fit |\n|---|---|--:|--:|---|--:|--:|---|\n")
	for _, p := range m.Probes {
		for _, pt := range p.Points {
			rounds := make([]string, len(pt.Rounds))
			for i, x := range pt.Rounds {
				rounds[i] = num(x)
			}
			in := "yes"
			if pt.Unbound != "" {
				in = "no: " + pt.Unbound
			}
			w.printf("| %s | %s | %s | %s | %s | %s | %d | %s |\n", p.Label, pt.Shape, num(pt.CPUs), num(pt.Throughput),
				strings.Join(rounds, ", "), num(pt.P99Ms), pt.Errors, in)
		}
	}
	w.printf("\n")
	for _, p := range m.Probes {
		w.printf("- %s.\n", mdText(p.Text))
	}
	if b := m.Memory; b != nil {
		w.printf("- Memory per backend: %s MiB, the mean private memory of %d idle backends on %s (%s).\n", num(b.MiB), b.Backends, b.Shape, b.Method)
	}
	for _, warn := range m.Warnings {
		w.printf("- Warning: %s\n", mdText(warn))
	}
}

// mdText keeps a sentence from being read as Markdown markup (a "*" or "_" in a figure).
func mdText(s string) string {
	return strings.NewReplacer("*", `\*`, "|", `\|`).Replace(s)
}
