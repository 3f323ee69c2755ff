// Package timeouts proposes statement_timeout and lock_timeout for an application's role from a
// run's latency distributions: the early-warning advice of the article "Postgres Failures At
// Scale" (set both at two to three times the average response time, and alert on the timeout
// errors), and a second proposal from the tail of the distribution. For each value it counts,
// from the run's HDR histograms, the share of the run's requests it would have cancelled.
package timeouts

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// Rules of the proposals. The article's: "double or triple the average response time";
// statement_timeout takes the upper end and lock_timeout the lower, since the article wants
// lock_timeout shorter than statement_timeout. The tail's: twice the p99.9 for statements, the
// p99.9 itself for lock waits, which cancels at most 0.1% of requests like the ones measured.
const (
	ArticleStatementFactor = 3.0
	ArticleLockFactor      = 2.0
	TailStatementFactor    = 2.0
	TailLockFactor         = 1.0
	// TailQuantile is the percentile the tail rule starts from.
	TailQuantile = 99.9
	// MaxCancelledShare is the share of a healthy run's requests a proposal may cancel and still
	// be recommended: above it the timeout is not an early warning but an outage of its own.
	MaxCancelledShare = 0.01
)

// Rule names.
const (
	RuleArticle = "article"
	RuleTail    = "tail"
)

// SQLSTATEs of the timeouts, which the alert watches.
const (
	CodeStatementTimeout = "57014" // query_canceled
	CodeLockTimeout      = "55P03" // lock_not_available
)

// Options select what the proposal is drawn from.
type Options struct {
	// Variant, when set, keeps only the series of that variant.
	Variant string
}

// Proposal is a pair of settings for the application's role and what they would have done to
// the run.
type Proposal struct {
	Rule               string  `json:"rule"`
	Basis              string  `json:"basis"` // how the values were derived, in words
	StatementTimeoutMs int64   `json:"statement_timeout_ms"`
	LockTimeoutMs      int64   `json:"lock_timeout_ms"`
	StatementCancelled float64 `json:"statement_cancelled_share"` // of the run's requests
	// LockCancelledAtMost bounds the share lock_timeout would have cancelled: a request cannot
	// wait for a lock longer than it lasts, so at most the requests longer than lock_timeout.
	LockCancelledAtMost float64 `json:"lock_cancelled_at_most_share"`
}

// Distribution is one latency distribution of the run (all series, one series, or one statement
// of a script) and what each proposal would cancel of it.
type Distribution struct {
	Name     string  `json:"name"`
	Source   string  `json:"source"` // "service time", "latency" or "statement time"
	Requests int64   `json:"requests"`
	MeanMs   float64 `json:"mean_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p999_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Cancelled is the share statement_timeout would cancel, by rule.
	Cancelled map[string]float64 `json:"statement_cancelled_share"`
	hist      *hdrhistogram.Histogram
}

// Report is the proposal for one result.
type Report struct {
	Scenario string `json:"scenario"`
	RunID    string `json:"run_id"`
	Status   string `json:"status"`
	Variant  string `json:"variant,omitempty"`
	// Overall is every selected series merged: the distribution the proposals come from.
	Overall     Distribution   `json:"overall"`
	Proposals   []Proposal     `json:"proposals"`
	Recommended string         `json:"recommended"` // a Rule
	Why         string         `json:"why"`
	Series      []Distribution `json:"series"`
	// Statements are a script run's statements (statement_timeout applies to each).
	Statements []Distribution `json:"statements,omitempty"`
	// TimeoutErrors are the run's own 57014 and 55P03 errors.
	TimeoutErrors map[string]int64 `json:"timeout_errors"`
	Notes         []string         `json:"notes,omitempty"`
}

// Propose derives the proposals from a result.
func Propose(r *result.Result, opts Options) (*Report, error) {
	rep := &Report{Scenario: r.Scenario, RunID: r.RunID, Status: r.Status, Variant: opts.Variant,
		TimeoutErrors: map[string]int64{CodeStatementTimeout: 0, CodeLockTimeout: 0}}
	overall := result.NewHistogram()
	var sources []string
	var picked []*result.Series
	var variants []string
	for i := range r.Series {
		s := &r.Series[i]
		if !slices.Contains(variants, s.Variant) {
			variants = append(variants, s.Variant)
		}
		if opts.Variant != "" && s.Variant != opts.Variant {
			continue
		}
		h, source, err := seriesHistogram(s)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", seriesName(s), err)
		}
		rep.TimeoutErrors[CodeStatementTimeout] += s.Errors[CodeStatementTimeout]
		rep.TimeoutErrors[CodeLockTimeout] += s.Errors[CodeLockTimeout]
		if h.TotalCount() == 0 {
			continue
		}
		picked = append(picked, s)
		overall.Merge(h)
		if !slices.Contains(sources, source) {
			sources = append(sources, source)
		}
		rep.Series = append(rep.Series, describe(seriesName(s), source, h))
	}
	if opts.Variant != "" && !slices.Contains(variants, opts.Variant) {
		return nil, &BadVariantError{Variant: opts.Variant, Valid: variants}
	}
	if overall.TotalCount() == 0 {
		return nil, errors.New("no latencies recorded in this result: nothing to propose from")
	}
	rep.Overall = describe("all series", strings.Join(sources, " and "), overall)
	if len(picked) == 1 {
		rep.Overall.Name = rep.Series[0].Name
	}
	for _, st := range report.BreakdownOf(picked).Statements {
		if st.Histogram == "" {
			continue
		}
		h, err := result.DecodeHistogram(st.Histogram)
		if err != nil {
			return nil, fmt.Errorf("statement %s: %w", st.Label, err)
		}
		if h.TotalCount() > 0 {
			rep.Statements = append(rep.Statements, describe(st.Label, "statement time", h))
		}
	}

	article := proposal(RuleArticle, fmt.Sprintf("%gx and %gx the mean response time (%s ms)",
		ArticleStatementFactor, ArticleLockFactor, fmtMs(rep.Overall.MeanMs)),
		rep.Overall.MeanMs*ArticleStatementFactor, rep.Overall.MeanMs*ArticleLockFactor, overall)
	tail := proposal(RuleTail, fmt.Sprintf("%gx and %gx the p99.9 (%s ms)",
		TailStatementFactor, TailLockFactor, fmtMs(rep.Overall.P999Ms)),
		rep.Overall.P999Ms*TailStatementFactor, rep.Overall.P999Ms*TailLockFactor, overall)
	rep.Proposals = []Proposal{article, tail}
	for _, d := range allDistributions(rep) {
		d.Cancelled = map[string]float64{}
		for _, p := range rep.Proposals {
			d.Cancelled[p.Rule] = CancelledShare(d.hist, p.StatementTimeoutMs*1000)
		}
	}
	rep.Recommended, rep.Why = RuleArticle, fmt.Sprintf("the article's rule would have cancelled %s of this run's requests (at most %s allowed)",
		Percent(article.StatementCancelled), Percent(MaxCancelledShare))
	if article.StatementCancelled > MaxCancelledShare {
		rep.Recommended = RuleTail
		rep.Why = fmt.Sprintf("the article's rule would have cancelled %s of this run's requests, more than %s: "+
			"this distribution's tail is long for its mean, so the tail's rule is the one that warns without cutting normal requests "+
			"(if the tail is an incident rather than normal traffic, the article's values are the ones that would have cut it short)",
			Percent(article.StatementCancelled), Percent(MaxCancelledShare))
	}
	rep.Notes = notes(rep)
	return rep, nil
}

// BadVariantError names a --variant the result does not have.
type BadVariantError struct {
	Variant string
	Valid   []string
}

func (e *BadVariantError) Error() string {
	return fmt.Sprintf("--variant %q: the result has no such variant; valid: %s", e.Variant, strings.Join(e.Valid, ", "))
}

func allDistributions(rep *Report) []*Distribution {
	out := []*Distribution{&rep.Overall}
	for i := range rep.Series {
		out = append(out, &rep.Series[i])
	}
	for i := range rep.Statements {
		out = append(out, &rep.Statements[i])
	}
	return out
}

// seriesHistogram is the series' service-time histogram where it has one (statement_timeout
// counts from when the statement reaches the server, not from when an open-loop schedule meant
// to send it), else its latency histogram.
func seriesHistogram(s *result.Series) (*hdrhistogram.Histogram, string, error) {
	enc, source := s.Histograms.Service, "service time"
	if enc == "" {
		enc, source = s.Histograms.Latency, "latency"
	}
	h, err := result.DecodeHistogram(enc)
	if err != nil {
		return nil, "", err
	}
	return h, source, nil
}

func seriesName(s *result.Series) string {
	name := s.Variant
	if p := report.PointString(s.Point); p != "" {
		name += " " + p
	}
	if s.Repeat > 1 {
		name += fmt.Sprintf(" repeat %d", s.Repeat)
	}
	return name
}

func describe(name, source string, h *hdrhistogram.Histogram) Distribution {
	p := result.PercentilesOf(h)
	return Distribution{Name: name, Source: source, Requests: p.Count, MeanMs: p.Mean, P50Ms: p.P50,
		P99Ms: p.P99, P999Ms: p.P999, MaxMs: p.Max, hist: h}
}

func proposal(rule, basis string, statementMs, lockMs float64, h *hdrhistogram.Histogram) Proposal {
	st, lk := RoundUpMs(statementMs), RoundUpMs(lockMs)
	return Proposal{Rule: rule, Basis: basis, StatementTimeoutMs: st, LockTimeoutMs: lk,
		StatementCancelled: CancelledShare(h, st*1000), LockCancelledAtMost: CancelledShare(h, lk*1000)}
}

// RoundUpMs rounds a duration in milliseconds up to a whole millisecond below 100 ms and to two
// significant figures above, and to at least 1 ms (PostgreSQL counts both timeouts in whole
// milliseconds, and 0 turns them off).
func RoundUpMs(ms float64) int64 {
	if ms <= 1 {
		return 1
	}
	if ms < 100 {
		return int64(math.Ceil(ms - 1e-9))
	}
	mag := math.Pow(10, math.Floor(math.Log10(ms))-1)
	return int64(math.Ceil(ms/mag-1e-9) * mag)
}

// CancelledShare is the share of the values in h (microseconds) above limitUs: the requests a
// timeout of limitUs would have cancelled. A histogram bucket that straddles the limit counts as
// not cancelled, so the share is exact to the histogram's 3 significant digits.
func CancelledShare(h *hdrhistogram.Histogram, limitUs int64) float64 {
	total := h.TotalCount()
	if total == 0 {
		return 0
	}
	var above int64
	for _, b := range h.Distribution() {
		if b.Count > 0 && b.From > limitUs {
			above += b.Count
		}
	}
	return float64(above) / float64(total)
}

// notes are what the reader should know about the numbers.
func notes(rep *Report) []string {
	var out []string
	for _, p := range rep.Proposals {
		if p.StatementTimeoutMs == 1 {
			out = append(out, fmt.Sprintf("the %s's rule gives less than 1 ms, PostgreSQL's smallest timeout; 1 ms is proposed. "+
				"A timeout that short suits only a workload this fast on a server this close", p.Rule))
			break
		}
	}
	if rep.Status != result.StatusOK {
		out = append(out, fmt.Sprintf("the run's status is %s: its distribution may not be the workload's normal one", rep.Status))
	}
	var worst *Distribution
	for i := range rep.Statements {
		if d := &rep.Statements[i]; worst == nil || d.Cancelled[rep.Recommended] > worst.Cancelled[rep.Recommended] {
			worst = d
		}
	}
	if worst != nil && worst.Cancelled[rep.Recommended] > MaxCancelledShare {
		out = append(out, fmt.Sprintf("statement %s would lose %s of its executions to the recommended statement_timeout: "+
			"give its transaction a longer one with SET LOCAL statement_timeout, as the article does for slow requests",
			worst.Name, Percent(worst.Cancelled[rep.Recommended])))
	}
	if n := len(rep.Series); n > 1 && rep.Variant == "" {
		out = append(out, fmt.Sprintf("the proposals merge all %d series (an incident in one counts too); --variant keeps one variant's", n))
	}
	return out
}

// Percent formats a share as a percentage with enough digits to show small shares.
func Percent(share float64) string {
	switch {
	case share == 0:
		return "0%"
	case share < 0.0001:
		return fmt.Sprintf("%.4f%%", share*100)
	case share < 0.01:
		return fmt.Sprintf("%.2f%%", share*100)
	}
	return fmt.Sprintf("%.1f%%", share*100)
}

func fmtMs(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}
