// Package suggest is pgscale's one "did you mean": the valid name nearest to a misspelt one, for
// every error that names a bad value and lists what is valid (scenario parameters, gate fields,
// sizing keys, table columns, CLI flags).
package suggest

import (
	"fmt"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest is the candidate nearest to s, compared without regard to case: one that s begins
// (a name cut short), else the one fewest edits away when at most max(2, len(s)/3) edits are. It
// is "" when none is near.
func Closest(s string, candidates []string) string {
	lower := strings.ToLower(s)
	if lower != "" {
		for _, c := range candidates {
			if strings.HasPrefix(strings.ToLower(c), lower) && c != s {
				return c
			}
		}
	}
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein.ComputeDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(2, len(s)/3) {
		return ""
	}
	return best
}

// DidYouMean is ` (did you mean "x"?)` for the candidate Closest to s, or "" when none is near.
func DidYouMean(s string, candidates []string) string { return DidYouMeanAs(s, candidates, "") }

// DidYouMeanAs is DidYouMean with prefix written before the candidate ("--" for a flag).
func DidYouMeanAs(s string, candidates []string, prefix string) string {
	c := Closest(s, candidates)
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", prefix+c)
}
