package script

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Mix chooses a script per transaction by weight.
type Mix struct {
	scripts []*Script
	total   int
	cum     []int
}

// NewMix makes a mix of scripts; it rejects an empty list and weights below 1.
func NewMix(scripts []*Script) (*Mix, error) {
	if len(scripts) == 0 {
		return nil, errors.New("no scripts: give at least one script file or built-in")
	}
	m := &Mix{scripts: scripts}
	for _, s := range scripts {
		if s.Weight < 1 {
			return nil, fmt.Errorf("script %s has weight %d: weights must be positive integers", s.Name, s.Weight)
		}
		m.total += s.Weight
		if m.total < 0 {
			return nil, errors.New("script weights are too large")
		}
		m.cum = append(m.cum, m.total)
	}
	return m, nil
}

// Pick chooses a script by weight and returns its index in Scripts().
func (m *Mix) Pick(r *rand.Rand) int {
	if len(m.scripts) == 1 {
		return 0
	}
	x := r.IntN(m.total)
	for i, c := range m.cum {
		if x < c {
			return i
		}
	}
	return len(m.cum) - 1
}

// Scripts returns the mix's scripts.
func (m *Mix) Scripts() []*Script { return m.scripts }

// Check validates options against the mix before anything starts: the protocol is known,
// MaxTries is at least 1, -D names are valid, and pipelines are not used with the simple protocol.
func (m *Mix) Check(opts Options) error {
	switch opts.Protocol {
	case ProtocolSimple, ProtocolExtended, ProtocolPrepared, "":
	default:
		return fmt.Errorf("unknown protocol %q (valid: simple, extended, prepared)", opts.Protocol)
	}
	if opts.MaxTries < 0 {
		return fmt.Errorf("max tries %d: must be at least 1", opts.MaxTries)
	}
	for name := range opts.Vars {
		if !validVarName(name) {
			return fmt.Errorf("invalid variable name %q: letters, digits and underscores, not starting with a digit", name)
		}
	}
	if opts.protocol() == ProtocolSimple {
		for _, s := range m.scripts {
			if s.pipeline {
				return fmt.Errorf("script %s uses \\startpipeline, which needs the extended or prepared protocol (not simple)", s.Name)
			}
		}
	}
	return nil
}
