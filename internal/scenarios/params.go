package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/suggest"
	"github.com/pgscale/pgscale/internal/usage"
)

// Kind is the type of a parameter's values.
type Kind string

// Parameter kinds.
const (
	KindInt      Kind = "int"
	KindFloat    Kind = "float"
	KindDuration Kind = "duration"
	KindString   Kind = "string"
	KindBool     Kind = "bool"
)

// ParamSpec documents and validates one scenario parameter, given as --set name=value.
type ParamSpec struct {
	Name    string
	Kind    Kind
	Default string // as typed on the command line; "a,b" for a list
	Quick   string // the default under --quick; "" keeps Default
	Full    string // the default under --preset full; "" keeps Default
	// List marks a sweep dimension (or a variant list): it takes a,b,c.
	List bool
	// Choices, when set, are the only valid values.
	Choices []string
	// Min is the least valid value of an int, float or duration.
	Min  float64
	Help string
	// Before is what a result recorded without this parameter ran with, when the default has
	// changed since the parameter was added ("" when it is still Default): the gate matches an
	// older baseline against it.
	Before string
}

// Params are a scenario's resolved parameters: every declared name has a value, checked against
// its spec.
type Params struct {
	values map[string][]string
	specs  map[string]ParamSpec
	// given holds the names set explicitly (--set), as opposed to defaults.
	given map[string]bool
	Quick bool
	// Preset is the preset whose defaults the parameters started from (PresetQuick, PresetDefault
	// or PresetFull; preset.go).
	Preset string
}

// ResolveParams applies sets (from --set) over the defaults of doc (--quick's when quick),
// reporting every bad name or value at once as a usage error.
func ResolveParams(doc Doc, sets map[string]string, quick bool) (Params, error) {
	preset := PresetDefault
	if quick {
		preset = PresetQuick
	}
	return ResolvePreset(doc, sets, preset)
}

// ResolvePreset is ResolveParams over the defaults of a preset (PresetQuick, PresetDefault or
// PresetFull, checked by CheckPreset).
func ResolvePreset(doc Doc, sets map[string]string, preset string) (Params, error) {
	p := Params{values: map[string][]string{}, specs: map[string]ParamSpec{}, given: map[string]bool{},
		Quick: preset == PresetQuick, Preset: preset}
	for _, spec := range doc.Params {
		p.specs[spec.Name] = spec
		p.values[spec.Name] = splitList(spec.DefaultIn(preset))
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		spec, ok := p.specs[name]
		if !ok {
			errs = append(errs, usage.Fieldf("set", "%s: %s has no parameter %q%s; valid: %s",
				name, doc.Name, name, suggest.DidYouMean(name, doc.ParamNames()), strings.Join(doc.ParamNames(), ", ")))
			continue
		}
		vals := splitList(sets[name])
		if len(vals) == 0 {
			errs = append(errs, usage.Fieldf("set", "%s: empty value", name))
			continue
		}
		if len(vals) > 1 && !spec.List {
			errs = append(errs, usage.Fieldf("set", "%s=%s: %s takes one value, not a list", name, sets[name], name))
			continue
		}
		p.values[name] = vals
		p.given[name] = true
	}
	for _, spec := range doc.Params {
		for _, v := range p.values[spec.Name] {
			if err := spec.check(v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return Params{}, usage.Join(errs)
	}
	return p, nil
}

func (s ParamSpec) check(v string) error {
	bad := func(what string) error {
		return usage.Fieldf("set", "%s=%s: %s", s.Name, v, what)
	}
	if len(s.Choices) > 0 {
		for _, c := range s.Choices {
			if v == c {
				return nil
			}
		}
		return bad(fmt.Sprintf("valid values are %s%s", strings.Join(s.Choices, ", "), suggest.DidYouMean(v, s.Choices)))
	}
	var num float64
	switch s.Kind {
	case KindInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad("not a whole number")
		}
		num = float64(n)
	case KindFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return bad("not a number")
		}
		num = f
	case KindDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return bad("not a duration (e.g. 250ms, 10s, 1m)")
		}
		num = d.Seconds()
	case KindBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return bad("not true or false")
		}
		return nil
	default:
		return nil
	}
	if num < s.Min {
		return bad(fmt.Sprintf("must be at least %g", s.Min))
	}
	return nil
}

// Given reports whether name was set explicitly rather than left at its default.
func (p Params) Given(name string) bool { return p.given[name] }

// Strings returns the values of name.
func (p Params) Strings(name string) []string { return p.values[name] }

// String returns the (first) value of name.
func (p Params) String(name string) string {
	if v := p.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Ints returns the values of an int parameter (checked by ResolveParams).
func (p Params) Ints(name string) []int {
	var out []int
	for _, v := range p.values[name] {
		n, _ := strconv.Atoi(v)
		out = append(out, n)
	}
	return out
}

// Int returns the first value of an int parameter.
func (p Params) Int(name string) int {
	if v := p.Ints(name); len(v) > 0 {
		return v[0]
	}
	return 0
}

// Float returns the first value of a float parameter.
func (p Params) Float(name string) float64 {
	f, _ := strconv.ParseFloat(p.String(name), 64)
	return f
}

// Durations returns the values of a duration parameter.
func (p Params) Durations(name string) []time.Duration {
	var out []time.Duration
	for _, v := range p.values[name] {
		d, _ := time.ParseDuration(v)
		out = append(out, d)
	}
	return out
}

// Duration returns the first value of a duration parameter.
func (p Params) Duration(name string) time.Duration {
	if v := p.Durations(name); len(v) > 0 {
		return v[0]
	}
	return 0
}

// Bool returns the value of a bool parameter.
func (p Params) Bool(name string) bool {
	b, _ := strconv.ParseBool(p.String(name))
	return b
}

// Map returns the parameters as recorded in a result: lists as lists, single values as scalars.
func (p Params) Map() map[string]any {
	out := map[string]any{}
	for name, vals := range p.values {
		spec := p.specs[name]
		typed := make([]any, len(vals))
		for i, v := range vals {
			typed[i] = typedValue(spec.Kind, v)
		}
		if spec.List {
			out[name] = typed
		} else if len(typed) > 0 {
			out[name] = typed[0]
		}
	}
	return out
}

func typedValue(k Kind, v string) any {
	switch k {
	case KindInt:
		n, _ := strconv.Atoi(v)
		return n
	case KindFloat:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	case KindBool:
		b, _ := strconv.ParseBool(v)
		return b
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Suggest is suggest.DidYouMean, kept for callers written before it existed.
//
// Deprecated: use internal/suggest.
func Suggest(s string, candidates []string) string { return suggest.DidYouMean(s, candidates) }
