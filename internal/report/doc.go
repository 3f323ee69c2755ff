// Package report renders results (package result): the text and Markdown summaries, report.md
// and the self-contained report.html with their plots (gonum/plot, PNG and SVG), findings in
// words, a diagnosis of what bound each series, the comparison of two runs (Mann-Whitney U via
// golang.org/x/perf/benchmath), and the Go benchmark format that benchstat reads.
package report
