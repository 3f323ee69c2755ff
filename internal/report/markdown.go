package report

import (
	"fmt"
	"path"
	"strings"
)

// Markdown renders report.md: findings first, then the environment, the series, the knees of a
// sweep, the figures as image links into plots/, the scenario's metrics and warnings. It is
// plain GitHub-flavoured Markdown, fit for a CI step summary or a pull request comment.
func (d *Document) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title())
	h := "##"
	if len(d.Sections) > 1 {
		h = "###"
	}
	for _, s := range d.Sections {
		if len(d.Sections) > 1 {
			fmt.Fprintf(&b, "## %s\n\n", s.Run.Scenario)
		}
		s.markdown(&b, h, s.Run.LatencySLO(d.SLO))
	}
	return b.String()
}

func (s *Section) markdown(b *strings.Builder, h string, slo float64) {
	fmt.Fprintf(b, "%s Findings\n\n", h)
	for _, f := range s.Findings {
		fmt.Fprintf(b, "- %s\n", mdEscape(f))
	}
	b.WriteString("\n")

	fmt.Fprintf(b, "%s Environment\n\n", h)
	rows := s.envRows()
	envTable := [][]string{}
	for _, r := range rows {
		envTable = append(envTable, []string{"`" + r.Run + "`", r.Status, r.Started, r.Target, r.Server, r.Duration, r.Host, r.Pgscale})
	}
	mdTable(b, []string{"run", "status", "started", "target", "PostgreSQL", "duration", "host", "pgscale"}, envTable, 0)
	if set, differ := s.settings(); set != "" {
		note := ""
		if differ {
			note = " (of the first run; the others differ)"
		}
		fmt.Fprintf(b, "\nServer settings%s: %s\n", note, mdEscape(set))
	}
	b.WriteString("\n")

	fmt.Fprintf(b, "%s Series\n\n", h)
	mdTable(b, s.seriesHeader(), s.seriesRows(), 2)
	if s.Run.Repeats() > 1 {
		b.WriteString("\n" + s.repeatsNote() + "\n")
	}
	if note := enginesNote(s.Run.Groups); note != "" {
		b.WriteString("\n" + mdEscape(note) + "\n")
	}
	b.WriteString("\n")

	spreadMarkdown(b, h, s.Run)
	breakdownMarkdown(b, h, s.Run)

	if x, header, rows := s.kneeRows(slo); rows != nil {
		fmt.Fprintf(b, "%s Sweep over %s\n\n", h, x.Name)
		fmt.Fprintf(b, "%s\n\n", kneeNote(x.Name, slo))
		mdTable(b, header, rows, 3)
		b.WriteString("\n")
	}

	if len(s.Figures) > 0 {
		fmt.Fprintf(b, "%s Plots\n\n", h)
		if note := s.timelineNote(); note != "" {
			b.WriteString(note + "\n\n")
		}
		for _, f := range s.Figures {
			png := path.Join(PlotsDir, f.Name+".png")
			svg := path.Join(PlotsDir, f.Name+".svg")
			fmt.Fprintf(b, "%s# %s\n\n![%s](%s)\n\n%s ([SVG](%s))\n\n", h, mdEscape(f.Title), mdEscape(f.Title), png,
				mdEscape(f.Caption), svg)
		}
	}

	if header, rows := s.metricsTable(); rows != nil {
		fmt.Fprintf(b, "%s Metrics\n\n", h)
		mdTable(b, header, rows, 1)
		b.WriteString("\n")
	}
	if ws := s.warnings(); len(ws) > 0 {
		fmt.Fprintf(b, "%s Warnings\n\n", h)
		for _, w := range ws {
			fmt.Fprintf(b, "- %s\n", mdEscape(w))
		}
		b.WriteString("\n")
	}
}

// mdTable writes a table whose columns from numFrom on are right-aligned numbers.
func mdTable(b *strings.Builder, header []string, rows [][]string, numFrom int) {
	b.WriteString("|")
	for _, h := range header {
		fmt.Fprintf(b, " %s |", mdEscape(h))
	}
	b.WriteString("\n|")
	for i := range header {
		if numFrom > 0 && i >= numFrom {
			b.WriteString("--:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			fmt.Fprintf(b, " %s |", mdEscape(c))
		}
		b.WriteString("\n")
	}
}

// mdEscape keeps text from breaking a table or turning into markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
