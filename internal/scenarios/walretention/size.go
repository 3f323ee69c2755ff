package walretention

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// mib is a megabyte as PostgreSQL counts them in its size settings (1024 × 1024 bytes).
const mib = 1 << 20

// maxSizeBytes is the largest size taken: 1 PB, past any disk, and within PostgreSQL's MB settings.
const maxSizeBytes = 1 << 50

// sizeUnits are the units a size parameter takes, as PostgreSQL spells them (kB, MB, GB, TB),
// matched without regard to case.
var sizeUnits = []struct {
	suffix string
	bytes  float64
}{
	{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
}

// parseSize reads a size such as 256MB, 50GB or 1.5TB into bytes. A bare number is refused: the
// unit says what the user meant.
func parseSize(s string) (float64, bool) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || !(v > 0) || v*u.bytes > maxSizeBytes {
				return 0, false // NaN fails v > 0
			}
			return v * u.bytes, true
		}
	}
	return 0, false
}

// formatMB renders megabytes for people: 512 MB, 1.5 GB, 50 GB.
func formatMB(mb float64) string {
	switch {
	case mb >= 1024*1024:
		return trimFloat(mb/(1024*1024)) + " TB"
	case mb >= 1024:
		return trimFloat(mb/1024) + " GB"
	default:
		return trimFloat(mb) + " MB"
	}
}

// trimFloat shows a whole number without decimals, anything else with one.
func trimFloat(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// formatSpan renders how long a disk lasts: 42 s, 7.5 min, 2.8 hours, 3.1 days.
func formatSpan(seconds float64) string {
	switch {
	case seconds < 120:
		return fmt.Sprintf("%.0f s", seconds)
	case seconds < 2*3600:
		return fmt.Sprintf("%.1f min", seconds/60)
	case seconds < 2*86400:
		return fmt.Sprintf("%.1f hours", seconds/3600)
	default:
		return fmt.Sprintf("%.1f days", seconds/86400)
	}
}
