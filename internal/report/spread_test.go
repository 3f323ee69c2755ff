package report

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// firstRepeats is r with only its first n repeats.
func firstRepeats(r *Result, n int) *Result {
	c := *r
	c.Series = nil
	for _, s := range r.Series {
		if s.Repeat <= n {
			c.Series = append(c.Series, s)
		}
	}
	return &c
}

// TestSpreadOverRepeats: the fixture's prepared ops/s over 5 repeats are 42000 42500 41800 43000
// 42200: median 42200, mean 42300, sample sd √(880000/4) ≈ 469.0, cv 1.1%, and with 5 repeats
// the interval of the median is min to max, 41800 to 43000, at 1 − 2/2⁵ = 93.75%.
func TestSpreadOverRepeats(t *testing.T) {
	t.Parallel()
	a := loadFixture(t, fixtureRepeatsA)
	spreads := RepeatSpreads(a)
	if len(spreads) != 2 || spreads[0].Variant != "prepared" || len(spreads[0].Figures) != 4 {
		t.Fatalf("RepeatSpreads = %+v, want prepared and simple with ops/s, p50, p99 and p99.9", spreads)
	}
	ops := spreads[0].Figures[0]
	if ops.Figure != "ops/s" || ops.N != 5 || ops.Median != 42200 || ops.Mean != 42300 ||
		math.Abs(ops.CV-math.Sqrt(220000)/42300) > 1e-12 || *ops.Low != 41800 || *ops.High != 43000 || ops.Level != 0.9375 {
		t.Errorf("prepared ops/s spread = %+v", ops)
	}

	text := Text(a)
	row := regexp.MustCompile(`(?m)^  prepared +connect=pool workers=8 +ops/s +5 +42200\.0 +1\.1% +41800–43000 +93\.8%$`)
	if !strings.Contains(text, "spread over repeats: median of the per-repeat figures;") || !row.MatchString(text) {
		t.Errorf("the summary lacks the spread over repeats:\n%s", text)
	}
	doc, err := NewDocument([]*Result{a}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if md := doc.Markdown(); !strings.Contains(md, "| prepared | connect=pool workers=8 | ops/s | 5 | 42200.0 | 1.1% | 41800–43000 | 93.8% |") {
		t.Errorf("report.md lacks the spread table:\n%s", md)
	}
	if html := doc.HTML(); !strings.Contains(string(html), "<h3>Spread over repeats</h3>") || !strings.Contains(string(html), "41800–43000") {
		t.Errorf("report.html lacks the spread table")
	}

	// Two repeats: cv, but no interval, and the summary says why.
	two := firstRepeats(a, 2)
	if text := Text(two); !strings.Contains(text, "not computed (n < 3)") || !strings.Contains(text, "none below 3") {
		t.Errorf("2 repeats: the summary does not say the interval is not computed:\n%s", text)
	}
	if s := RepeatSpreads(two)[0].Figures[0]; s.Low != nil || !strings.Contains(s.NoInterval, "at least 3") {
		t.Errorf("2 repeats: spread = %+v", s)
	}
	// One repeat: no spread anywhere.
	one := firstRepeats(a, 1)
	if RepeatSpreads(one) != nil || strings.Contains(Text(one), "over repeats") {
		t.Errorf("1 repeat has a spread:\n%s", Text(one))
	}
}

// TestCompareShowsSpread: each compared figure carries both sides' spread, and a side of two
// repeats shows no interval.
func TestCompareShowsSpread(t *testing.T) {
	t.Parallel()
	a, b := loadFixture(t, fixtureRepeatsA), loadFixture(t, fixtureRepeatsB)
	cmp, err := Compare([]*Result{a}, []*Result{firstRepeats(b, 2)}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	d := cmp.Rows[0].Metrics[0]
	if d.SpreadA.N != 5 || d.SpreadA.Low == nil || d.SpreadB.N != 2 || d.SpreadB.Low != nil {
		t.Errorf("spreads of a 5+2 comparison: A %+v, B %+v", d.SpreadA, d.SpreadB)
	}
	line := regexp.MustCompile(`(?m)^    interval +41800–43000 +n<3  \(93\.8%\)$`)
	if text := cmp.Text(); !line.MatchString(text) || !strings.Contains(text, "cv and interval lines:") {
		t.Errorf("the comparison lacks the interval line:\n%s", text)
	}
	if md := cmp.Markdown(); !strings.Contains(md, "|  | interval | 41800–43000 | n<3 |  |  | (93.8%) |") {
		t.Errorf("the Markdown comparison lacks the interval row:\n%s", md)
	}
	one, err := Compare([]*Result{firstRepeats(a, 1)}, []*Result{firstRepeats(b, 1)}, "A", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	if text := one.Text(); strings.Contains(text, "cv") || strings.Contains(text, "interval") {
		t.Errorf("1+1 repeats show a spread:\n%s", text)
	}
}
