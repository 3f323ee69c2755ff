package runner

// Points grouped by the server they need: one server per set of settings (and per added latency),
// reused for the points that can share it.

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/pgscale/pgscale/internal/harness"
	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/result"
)

// group is the points that share one server configuration and one added latency.
type group struct {
	settings map[string]string
	latency  time.Duration
	points   []scenarios.Point
}

// latencySwept reports whether --latency is a sweep (more than one value).
func (p *prepared) latencySwept() bool { return len(p.opts.Latencies) > 1 }

// maxLatency is the largest latency asked for (0: none).
func (p *prepared) maxLatency() time.Duration {
	var m time.Duration
	for _, d := range p.opts.Latencies {
		m = max(m, d)
	}
	return m
}

// groups splits the plan's points by server settings and, for a latency sweep, repeats the
// groups at each latency (latency outermost, in the order given) with latency_ms in each point.
func (p *prepared) groups() []group {
	byLatency := p.opts.Latencies
	if len(byLatency) == 0 {
		byLatency = []time.Duration{0}
	}
	var gs []group
	for _, latency := range byLatency {
		for _, g := range p.settingsGroups() {
			g.latency = latency
			if p.latencySwept() {
				for i, pt := range g.points {
					pt.Values = maps.Clone(pt.Values)
					if pt.Values == nil {
						pt.Values = map[string]any{}
					}
					pt.Values[LatencyKey] = float64(latency) / float64(time.Millisecond)
					g.points[i] = pt
				}
			}
			gs = append(gs, g)
		}
	}
	return gs
}

// LatencyKey is the point value a latency sweep records: the added round trip in milliseconds.
const LatencyKey = "latency_ms"

// settingsGroups splits the plan's points by the server settings they need.
func (p *prepared) settingsGroups() []group {
	var gs []group
	for _, pt := range p.plan.Points {
		settings := maps.Clone(p.plan.Settings)
		if settings == nil {
			settings = map[string]string{}
		}
		maps.Copy(settings, pt.Settings)
		maps.Copy(settings, p.opts.PGSettings) // the user's word wins
		found := false
		for i := range gs {
			if maps.Equal(gs[i].settings, settings) {
				gs[i].points = append(gs[i].points, pt)
				found = true
				break
			}
		}
		if !found {
			gs = append(gs, group{settings: settings, points: []scenarios.Point{pt}})
		}
	}
	return gs
}

func (p *prepared) runGroups(ctx context.Context, res *result.Result) error {
	opts := p.opts
	provider, note, err := harness.ChooseFor(ctx, harness.Spec{Kind: opts.Target, Image: opts.Image, Shape: opts.Shape,
		Pooler: p.pooler(), Latency: p.maxLatency()})
	if err != nil {
		return err
	}
	if note != "" {
		p.logf("%s", note)
	}
	res.Environment.Target = provider.Kind()
	p.startProgress(provider.Kind())
	provider = p.shardProvider(p.preparedProvider(provider))
	gs := p.groups()
	if !p.canChangeSettings(provider) && len(p.settingsGroups()) > 1 {
		res.Warnings = append(res.Warnings, "the dsn target cannot change server settings: every point ran with the server's own")
		gs = mergeSettings(gs)
	}
	for _, g := range gs {
		if err := p.runGroup(ctx, provider, g, res); err != nil {
			return err
		}
	}
	return nil
}

// mergeSettings joins the groups of each latency into one (the settings of its first): for a
// target that cannot change them.
func mergeSettings(gs []group) []group {
	var out []group
	for _, g := range gs {
		if n := len(out); n > 0 && out[n-1].latency == g.latency {
			out[n-1].points = append(out[n-1].points, g.points...)
			continue
		}
		g.points = slices.Clone(g.points)
		out = append(out, g)
	}
	return out
}

func (p *prepared) canChangeSettings(provider harness.Provider) bool {
	return provider.Kind() != harness.KindDSN
}
