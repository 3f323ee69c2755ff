package gate

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/pgscale/pgscale/result"
)

// Files the gate writes into its out directory.
const (
	MarkdownFile = "gate.md"
	JUnitFile    = "junit.xml"
	TextFile     = "gate.txt"
)

func mark(s Status) string {
	switch s {
	case Pass:
		return "✓"
	case Fail:
		return "✗"
	case Skip:
		return "-"
	}
	return "!"
}

// verdict is the outcome in a few words.
func (o *Outcome) verdict() string {
	pass, fail, skip, errored := o.Counts()
	total := len(o.Checks)
	switch {
	case o.Err != nil:
		return fmt.Sprintf("COULD NOT RUN (%d check%s not evaluated)", errored, plural(errored))
	case fail > 0:
		return fmt.Sprintf("FAIL: %d of %d check%s failed", fail, total, plural(total))
	case skip > 0:
		return fmt.Sprintf("PASS: %d of %d check%s passed, %d skipped (no baseline)", pass, total, plural(total), skip)
	}
	return fmt.Sprintf("PASS: %d of %d check%s passed", pass, total, plural(total))
}

// row is one check's figures as text cells.
type row struct {
	mark, name, now, base, change, p, note string
}

func (o *Outcome) rows() []row {
	var rows []row
	for _, c := range o.Checks {
		r := row{mark: mark(c.Status), name: c.Name(), note: c.Note}
		switch {
		case c.Status == Error:
		case !c.Check.Relative:
			r.now = num(c.Value)
		case c.Status == Skip:
			r.now = num(c.NowMedian)
		default:
			r.now, r.base = num(c.NowMedian), num(c.BaseMedian)
			r.change = signedPct(c.Change)
			if c.Normalised {
				r.change += " cal"
			}
			if c.Tested {
				r.p = fmt.Sprintf("%.3f", c.P)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// about is the header common to every rendering, as name and value pairs.
func (o *Outcome) about() [][2]string {
	cfg := o.Config
	var names []string
	for _, e := range cfg.Suite {
		names = append(names, e.Name)
	}
	suite := fmt.Sprintf("%s, %d repeat%s a side", strings.Join(names, ", "), cfg.Repeats, plural(cfg.Repeats))
	if cfg.Calibrate {
		suite += fmt.Sprintf(", calibrated by %s (prepared, %d workers, %s per repeat)", calibrationEntry(cfg).Scenario, CalibrationWorkers, CalibrationDuration)
	}
	lines := [][2]string{{"suite", suite}}
	if o.Environment != "" {
		lines = append(lines, [2]string{"now", o.Environment})
	}
	switch {
	case o.Baseline != "":
		lines = append(lines, [2]string{"baseline", fmt.Sprintf("%s (%s)", o.BaselineDir, o.Baseline)})
	case cfg.HasRelative():
		lines = append(lines, [2]string{"baseline", fmt.Sprintf("none in %s yet", o.BaselineDir)})
	}
	if m := o.Calibration; m != nil {
		if m.Base != nil {
			lines = append(lines, [2]string{"calibration", fmt.Sprintf("moved %s since the baseline: %s lookups/s now, %s then (p=%.3f, n=%d+%d)",
				signedPct(m.Change), num(m.NowMedian), num(m.BaseMedian), m.P, len(m.Base), len(m.Now))})
		} else {
			lines = append(lines, [2]string{"calibration", fmt.Sprintf("%s lookups/s (median of %d)", num(m.NowMedian), len(m.Now))})
		}
	}
	return lines
}

// legend explains the columns.
func (o *Outcome) legend() []string {
	lines := []string{
		fmt.Sprintf("now and baseline are medians over the repeats (an absolute check: its aggregate); change is median now / median baseline - 1. "+
			"A relative check fails only when the change is beyond its limit and significant (Mann-Whitney U, alpha %g).", o.Config.Alpha),
	}
	if o.Config.Calibrate {
		lines = append(lines, "\"cal\": the change of figures normalised by the calibration of the same repeat "+
			"(rates divided by its lookups/s, times multiplied by them); now and baseline are as measured.")
	}
	return lines
}

// Text renders the outcome as a fixed-width table for the terminal.
func (o *Outcome) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pgscale gate %s: %s\n", o.Config.Path, o.verdict())
	for _, l := range o.about() {
		fmt.Fprintf(&b, "  %s: %s\n", l[0], l[1])
	}
	if o.Err != nil {
		fmt.Fprintf(&b, "  could not run: %v\n", o.Err)
	}
	b.WriteString("\n")
	rows := o.rows()
	head := row{name: "check", now: "now", base: "baseline", change: "change", p: "p", note: "note"}
	w := row{}
	width := func(cur *string, s string) {
		if utf8.RuneCountInString(s) > len(*cur) {
			*cur = strings.Repeat(" ", utf8.RuneCountInString(s))
		}
	}
	for _, r := range append([]row{head}, rows...) {
		width(&w.name, r.name)
		width(&w.now, r.now)
		width(&w.base, r.base)
		width(&w.change, r.change)
		width(&w.p, r.p)
	}
	for _, r := range append([]row{head}, rows...) {
		line := fmt.Sprintf("%-1s  %s  %s  %s  %s  %s  %s", r.mark, pad(r.name, len(w.name), false), pad(r.now, len(w.now), true),
			pad(r.base, len(w.base), true), pad(r.change, len(w.change), true), pad(r.p, len(w.p), true), r.note)
		if r.mark == "" {
			line = " " + line[1:]
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString("\n")
	for _, l := range o.legend() {
		fmt.Fprintf(&b, "%s\n", l)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if o.BaselineUpdated {
		fmt.Fprintf(&b, "baseline updated: %s\n", o.BaselineDir)
	}
	return b.String()
}

func pad(s string, n int, right bool) string {
	gap := n - utf8.RuneCountInString(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// Markdown renders the outcome for a pull request or a GitHub step summary.
func (o *Outcome) Markdown() string {
	var b strings.Builder
	icon := "✓"
	switch o.ExitCode() {
	case ExitRegression:
		icon = "✗"
	case ExitCouldNot:
		icon = "!"
	}
	fmt.Fprintf(&b, "## %s pgscale gate: %s\n\n", icon, mdEscape(o.verdict()))
	fmt.Fprintf(&b, "Gate file `%s`.\n\n", o.Config.Path)
	for _, l := range o.about() {
		fmt.Fprintf(&b, "- %s: %s\n", l[0], mdEscape(l[1]))
	}
	if o.Err != nil {
		fmt.Fprintf(&b, "- **could not run**: %s\n", mdEscape(o.Err.Error()))
	}
	b.WriteString("\n| | check | now | baseline | change | p | note |\n|---|---|--:|--:|--:|--:|---|\n")
	for _, r := range o.rows() {
		name := "`" + strings.ReplaceAll(r.name, "`", "'") + "`"
		if r.mark == "✗" {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.mark, name, r.now, r.base, r.change, r.p, mdEscape(r.note))
	}
	b.WriteString("\n")
	for _, l := range o.legend() {
		fmt.Fprintf(&b, "%s\n", mdEscape(l))
	}
	for _, n := range o.Notes {
		fmt.Fprintf(&b, "\n> Note: %s\n", mdEscape(n))
	}
	if o.BaselineUpdated {
		fmt.Fprintf(&b, "\nBaseline updated: `%s`.\n", o.BaselineDir)
	}
	return b.String()
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// JUnit XML: one testcase per check (and series), as CI systems read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Errors   int             `xml:"errors,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Props    *junitProps     `xml:"properties,omitempty"`
	Cases    []junitTestcase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestcase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// JUnit renders the outcome as JUnit XML.
func (o *Outcome) JUnit() []byte {
	_, fail, skip, errored := o.Counts()
	s := junitSuite{Name: "pgscale gate " + o.Config.Path, Tests: len(o.Checks), Failures: fail, Errors: errored, Skipped: skip}
	var props []junitProp
	for _, l := range o.about() {
		props = append(props, junitProp{Name: l[0], Value: l[1]})
	}
	if len(props) > 0 {
		s.Props = &junitProps{Props: props}
	}
	for _, c := range o.Checks {
		tc := junitTestcase{Name: c.Name(), Classname: "pgscale.gate." + c.Check.Entry}
		if f := figures(c); f != "" {
			tc.SystemOut = &junitText{Text: f}
		}
		switch c.Status {
		case Fail:
			tc.Failure = &junitMessage{Message: c.Note, Type: "regression", Text: c.Name() + ": " + c.Note}
		case Skip:
			tc.Skipped = &junitMessage{Message: c.Note}
		case Error:
			tc.Error = &junitMessage{Message: c.Note, Type: "could-not-run"}
		}
		s.Cases = append(s.Cases, tc)
	}
	doc := junitSuites{Name: "pgscale gate", Tests: s.Tests, Failures: fail, Errors: errored, Skipped: skip, Suites: []junitSuite{s}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		// The document is built from strings and numbers only; encoding cannot fail short of a
		// bug, and a half document is worse than a note.
		return []byte(xml.Header + "<!-- junit encoding failed: " + strings.ReplaceAll(err.Error(), "--", "- -") + " -->\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

// figures lists the per-repeat values behind a check.
func figures(c CheckResult) string {
	if c.Status == Error {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "series: %s\nnow: %s", c.Series, nums(c.Now))
	if c.Base != nil {
		fmt.Fprintf(&b, "\nbaseline: %s", nums(c.Base))
	}
	if c.Check.Relative && c.Status != Skip {
		fmt.Fprintf(&b, "\nchange: %s", signedPct(c.RawChange))
		if c.Normalised {
			fmt.Fprintf(&b, " as measured, %s normalised by the calibration", signedPct(c.Change))
		}
		fmt.Fprintf(&b, "; p=%.3f", c.P)
	}
	fmt.Fprintf(&b, "\n%s", c.Note)
	return b.String()
}

func nums(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = num(x)
	}
	return strings.Join(parts, " ")
}

// write writes gate.md, junit.xml and gate.txt into the out directory, and appends gate.md to
// the step summary file when one is named.
func (o *Outcome) write(stepSummary string) error {
	md := o.Markdown()
	if err := result.WriteAtomic(filepath.Join(o.OutDir, MarkdownFile), []byte(md)); err != nil {
		return err
	}
	if err := result.WriteAtomic(filepath.Join(o.OutDir, JUnitFile), o.JUnit()); err != nil {
		return err
	}
	if err := result.WriteAtomic(filepath.Join(o.OutDir, TextFile), []byte(o.Text())); err != nil {
		return err
	}
	if stepSummary == "" {
		return nil
	}
	f, err := os.OpenFile(stepSummary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if _, err := f.WriteString(md + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	return nil
}
