package sizing

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a duration in a workload file, written as Go writes them ("250ms", "1.5s").
// It keeps the text as given, so that validation can name a bad value; Value parses it.
type Duration struct {
	Raw string
}

// UnmarshalYAML keeps the scalar as text; a bare number is reported by validation.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 250ms", n.Line)
	}
	d.Raw = n.Value
	return nil
}

// Set reports whether the duration was given.
func (d Duration) Set() bool { return d.Raw != "" }

// Value parses the duration.
func (d Duration) Value() (time.Duration, error) {
	if _, err := strconv.ParseFloat(d.Raw, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit; write it as 250ms, 1.5s, 40us", d.Raw)
	}
	v, err := time.ParseDuration(d.Raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (250ms, 1.5s, 40us)", d.Raw)
	}
	return v, nil
}

// ByteSize is an amount of memory or storage in a workload file: a number and a unit (kB, MB, GB,
// TB, as PostgreSQL reads them: powers of 1024; KiB, MiB, GiB, TiB are accepted too).
type ByteSize struct {
	Raw string
}

// UnmarshalYAML keeps the scalar as text.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 50GB", n.Line)
	}
	s.Raw = n.Value
	return nil
}

// Set reports whether the size was given.
func (s ByteSize) Set() bool { return s.Raw != "" }

var sizeUnits = []struct {
	names []string
	bytes float64
}{
	{[]string{"TB", "TiB"}, 1 << 40},
	{[]string{"GB", "GiB"}, 1 << 30},
	{[]string{"MB", "MiB"}, 1 << 20},
	{[]string{"kB", "KB", "KiB"}, 1 << 10},
	{[]string{"B"}, 1},
}

// Bytes parses the size.
func (s ByteSize) Bytes() (float64, error) {
	text := strings.TrimSpace(s.Raw)
	for _, u := range sizeUnits {
		for _, name := range u.names {
			if num, ok := strings.CutSuffix(text, name); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
				if err != nil {
					return 0, fmt.Errorf("%q is not a size (50GB, 1.7MB, 2TB)", s.Raw)
				}
				if v < 0 {
					return 0, fmt.Errorf("%q is negative", s.Raw)
				}
				return v * u.bytes, nil
			}
		}
	}
	return 0, fmt.Errorf("%q has no unit; write it as 50GB, 1.7MB, 2TB (powers of 1024, as PostgreSQL reads them)", s.Raw)
}
