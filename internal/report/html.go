package report

import (
	"bytes"
	"encoding/base64"
	"html/template"
)

// HTML renders report.html: one self-contained file (the figures inline as data: URIs, the
// styles inline, no script) that opens without network access and prints on A4. A
// Content-Security-Policy forbids fetching anything, so a report can never call home.
func (d *Document) HTML() []byte {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, d.htmlData()); err != nil {
		// The template is fixed and its data plain strings: an error here is a bug, shown in
		// the page rather than lost.
		return []byte("<!doctype html><title>pgscale report</title><p>report rendering failed: " +
			template.HTMLEscapeString(err.Error()))
	}
	return buf.Bytes()
}

type htmlFigure struct {
	ID, Title, Caption string
	Src                template.URL
	Width, Height      int
}

type htmlTable struct {
	Header  []string
	Rows    [][]string
	NumFrom int
}

type htmlSection struct {
	Scenario    string
	Findings    []string
	Env         []envRow
	Settings    string
	SettingsDif bool
	Series      htmlTable
	RepeatsNote string
	Spread      *htmlTable
	SpreadNote  string
	SweepDim    string
	SweepNote   string
	Knees       *htmlTable
	Figures     []htmlFigure
	TimeNote    string
	Metrics     *htmlTable
	Warnings    []string
	Breakdowns  []htmlBreakdown
}

// htmlBreakdown is the per-script and per-statement tables of one group (report/script.go).
type htmlBreakdown struct {
	Title               string
	Scripts, Statements htmlTable
}

func (d *Document) htmlData() map[string]any {
	var secs []htmlSection
	for _, s := range d.Sections {
		hs := htmlSection{Scenario: s.Run.Scenario, Findings: s.Findings, Env: s.envRows(),
			Series:   htmlTable{Header: s.seriesHeader(), Rows: s.seriesRows(), NumFrom: 2},
			TimeNote: s.timelineNote(), Warnings: s.warnings()}
		hs.Settings, hs.SettingsDif = s.settings()
		if s.Run.Repeats() > 1 {
			hs.RepeatsNote = s.repeatsNote()
		}
		if rows := spreadRows(s.Run); rows != nil {
			hs.Spread = &htmlTable{Header: spreadHeader, Rows: rows, NumFrom: 3}
			hs.SpreadNote = spreadSentence()
		}
		slo := s.Run.LatencySLO(d.SLO)
		if x, header, rows := s.kneeRows(slo); rows != nil {
			hs.SweepDim = x.Name
			hs.SweepNote = kneeNote(x.Name, slo)
			hs.Knees = &htmlTable{Header: header, Rows: rows, NumFrom: 3}
		}
		for _, f := range s.Figures {
			hs.Figures = append(hs.Figures, htmlFigure{ID: f.Name, Title: f.Title, Caption: f.Caption,
				Src:   template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG)),
				Width: f.Width, Height: f.Height})
		}
		if header, rows := s.metricsTable(); rows != nil {
			hs.Metrics = &htmlTable{Header: header, Rows: rows, NumFrom: 1}
		}
		for _, g := range s.Run.Groups {
			if bd := BreakdownOf(g.Repeats); !bd.Empty() {
				title := ""
				if len(s.Run.Groups) > 1 {
					title = " — " + g.Label()
				}
				hs.Breakdowns = append(hs.Breakdowns, htmlBreakdown{Title: title,
					Scripts:    htmlTable{Header: bd.ScriptHeader(), Rows: bd.ScriptRows(), NumFrom: 1},
					Statements: htmlTable{Header: bd.StatementHeader(), Rows: bd.StatementRows(), NumFrom: 1}})
			}
		}
		secs = append(secs, hs)
	}
	return map[string]any{"Title": d.Title(), "Sections": secs, "Multi": len(secs) > 1}
}

// htmlHead is every pgscale page's head: the Content-Security-Policy and the styles, ending with
// <body>. It expects .Title.
const htmlHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif;
  color: #1b1b1b; background: #fff; max-width: 1080px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.6em; }
h2 { font-size: 1.35em; margin-top: 1.6em; border-bottom: 2px solid #0072b2; padding-bottom: 3px; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
.findings { background: #eef6fb; border-left: 4px solid #0072b2; padding: 8px 16px 8px 28px; margin: 0.6em 0 1em; }
.findings li { margin: 0.25em 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-size: 0.92em; background: #f3f5f7; padding: 0 3px; border-radius: 3px; }
td code { white-space: nowrap; }
figure { margin: 1.2em 0 1.8em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e3e6e8; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.note { font-size: 13px; color: #444; }
.warn li { color: #8a4b00; }
@page { size: A4; margin: 12mm; }
@media print {
  body { font-size: 10.5pt; max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; }
  figure, table, .findings { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tbody tr:nth-child(even) td, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
`

// HTMLPage is a self-contained page in the report's style around body (trusted HTML: rendered
// from escaped Markdown or a template), for other packages' reports (the sizing report).
func HTMLPage(title string, body template.HTML) []byte {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, map[string]any{"Title": title, "Body": body}); err != nil {
		return []byte("<!doctype html><title>pgscale report</title><p>report rendering failed: " +
			template.HTMLEscapeString(err.Error()))
	}
	return buf.Bytes()
}

var pageTemplate = template.Must(template.New("page").Parse(htmlHead + `{{.Body}}
</body>
</html>
`))

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": func(i, from int) bool { return from > 0 && i >= from },
}).Parse(htmlHead + `<h1>{{.Title}}</h1>
{{- range .Sections}}
<section id="{{.Scenario}}">
{{- if $.Multi}}
<h2>{{.Scenario}}</h2>
{{- end}}
<h3>Findings</h3>
<ul class="findings">
{{- range .Findings}}
<li>{{.}}</li>
{{- end}}
</ul>
<h3>Environment</h3>
<div class="scroll"><table>
<thead><tr><th>run</th><th>status</th><th>started</th><th>target</th><th>PostgreSQL</th><th>duration</th><th>host</th><th>pgscale</th></tr></thead>
<tbody>
{{- range .Env}}
<tr><td><code>{{.Run}}</code></td><td>{{.Status}}</td><td>{{.Started}}</td><td>{{.Target}}</td><td>{{.Server}}</td><td>{{.Duration}}</td><td>{{.Host}}</td><td>{{.Pgscale}}</td></tr>
{{- end}}
</tbody></table></div>
{{- if .Settings}}
<p class="note">Server settings{{if .SettingsDif}} (of the first run; the others differ){{end}}: {{.Settings}}</p>
{{- end}}
<h3>Series</h3>
{{template "table" .Series}}
{{- if .RepeatsNote}}
<p class="note">{{.RepeatsNote}}</p>
{{- end}}
{{- if .Spread}}
<h3>Spread over repeats</h3>
{{template "table" .Spread}}
<p class="note">{{.SpreadNote}}</p>
{{- end}}
{{- range .Breakdowns}}
<h3>Scripts{{.Title}}</h3>
{{template "table" .Scripts}}
<p class="note">share: the script's part of the committed transactions (the part its weight asks for).</p>
<h3>Statements{{.Title}}</h3>
{{template "table" .Statements}}
<p class="note">Latency of each SQL command that succeeded; errors by SQLSTATE.</p>
{{- end}}
{{- if .Knees}}
<h3>Sweep over {{.SweepDim}}</h3>
<p class="note">{{.SweepNote}}</p>
{{template "table" .Knees}}
{{- end}}
{{- if .Figures}}
<h3>Plots</h3>
{{- if .TimeNote}}
<p class="note">{{.TimeNote}}</p>
{{- end}}
{{- range .Figures}}
<figure id="{{.ID}}">
<img src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Title}}">
<figcaption><strong>{{.Title}}.</strong> {{.Caption}}</figcaption>
</figure>
{{- end}}
{{- end}}
{{- if .Metrics}}
<h3>Metrics</h3>
{{template "table" .Metrics}}
{{- end}}
{{- if .Warnings}}
<h3>Warnings</h3>
<ul class="warn">
{{- range .Warnings}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
</section>
{{- end}}
</body>
</html>
{{define "table"}}<div class="scroll"><table>
<thead><tr>{{range $i, $h := .Header}}<th{{if num $i $.NumFrom}} class="num"{{end}}>{{$h}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range $i, $c := .}}<td{{if num $i $.NumFrom}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{- end}}
</tbody></table></div>{{end}}
`))
