// Package sizing answers "which instance class carries this workload, and why": `pgscale size`.
//
// It holds an instance catalog (AWS RDS, Google Cloud SQL and Azure flexible server classes,
// each entry with its source and the date it was read, plus any catalog file of the user's), a
// workload spec (YAML, or figures read from a connect-storm result), and a model that checks
// every class on four constraints:
//
//   - connections: Little's law, rate × the time a request holds its connection (or, through a
//     transaction-mode pooler, its time in the database), plus queue workers and extra
//     connections, against max_connections less the provider's reserved slots;
//   - memory: connections × memory per backend (measured when a result gives it) plus work_mem
//     for each active connection, against memory less shared_buffers and the system's reserve;
//   - CPU: rate × CPU per request (measured bounds from a result, a fit of throughput against
//     vCPU on container shapes with --measure, see Measurement and package sizing/measure, or
//     given), plus connects, jobs and ingest, against the class's sustained vCPU;
//   - storage: data size and growth over a horizon, with bloat and indexes, less the savings of a
//     `pgscale columns` output when given.
//
// A class passes when every need is within the headroom (30% by default). The recommendation per
// provider is the cheapest class that passes, with the binding constraint named in a sentence,
// its runners-up, the cheaper class that fails and why, the answer with a pooler when that
// changes it, and how max_connections scales with price. WriteFiles renders it as Markdown, a
// self-contained HTML page and a plot of capacity against price.
package sizing

import (
	"fmt"
	"slices"
)

// Schema names the JSON form of a sizing report.
const Schema = "pgscale.size/v1"

// Report is a sizing: the workload, the model's demand in both modes, and the choice per provider.
type Report struct {
	Schema   string    `json:"schema"`
	Workload *Workload `json:"workload"`
	// Mode is the workload's connection mode (pooler or direct); Alternative the other one.
	Mode        string             `json:"mode"`
	Alternative string             `json:"alternative_mode"`
	Demand      map[string]*Demand `json:"demand"`
	Providers   []ProviderReport   `json:"providers"`
	Warnings    []string           `json:"warnings,omitempty"`
	Notes       []string           `json:"notes"`
}

// ProviderReport is the sizing on one provider.
type ProviderReport struct {
	Provider  string `json:"provider"`
	Name      string `json:"name"`
	Region    string `json:"region"`
	Currency  string `json:"currency"`
	File      string `json:"catalog"`
	PriceNote string `json:"price_note,omitempty"`
	PriceDate string `json:"price_date,omitempty"`
	// CatalogNotes are the catalog file's notes on the provider (caveats of its figures).
	CatalogNotes string  `json:"catalog_notes,omitempty"`
	Choice       *Choice `json:"choice"`
	Alternative  *Choice `json:"alternative"`
	// AlternativeText says how the other mode changes the answer ("" when it does not).
	AlternativeText string  `json:"alternative_text,omitempty"`
	Scaling         Scaling `json:"scaling"`
}

// Size runs the model for a resolved workload over the catalog.
func Size(w *Workload, cat *Catalog) *Report {
	r := &Report{Schema: Schema, Workload: w, Mode: ModeDirect, Alternative: ModePooler, Demand: map[string]*Demand{}}
	if w.Pooler {
		r.Mode, r.Alternative = ModePooler, ModeDirect
	}
	primary, alt := NewDemand(w, r.Mode), NewDemand(w, r.Alternative)
	r.Demand[r.Mode], r.Demand[r.Alternative] = primary, alt
	r.Warnings = append(r.Warnings, w.Warnings...)
	r.Warnings = append(r.Warnings, workloadWarnings(w, r.Demand[ModeDirect])...)

	for _, id := range w.Providers {
		p := cat.Provider(id)
		if p == nil {
			continue
		}
		pr := ProviderReport{Provider: p.ID, Name: p.Name, Region: p.Region, Currency: p.Currency, File: p.File, CatalogNotes: p.Notes}
		if len(p.Instances) > 0 {
			pr.PriceNote, pr.PriceDate = p.Instances[0].PriceNote, p.Instances[0].PriceDate
		}
		pr.Choice = Choose(p, primary, w.Headroom.Value)
		pr.Alternative = Choose(p, alt, w.Headroom.Value)
		pr.AlternativeText = alternativeText(pr.Choice, pr.Alternative, alt)
		var anchor *Instance
		if pr.Choice.Pick != nil {
			anchor = &pr.Choice.Pick.Instance
		}
		pr.Scaling = NewScaling(p, anchor, SeedBudget, w.AllowBurst)
		r.Providers = append(r.Providers, pr)
	}
	r.Notes = []string{
		fmt.Sprintf("A class passes when every need is at most %s of its capacity (%s headroom); "+
			"\"tight\" fits only by eating the headroom.", pct(1-w.Headroom.Value), pct(w.Headroom.Value)),
		"Little's law gives the mean number of connections in use; the headroom absorbs bursts above it.",
		"Prices are on-demand, single instance (no high availability, no replicas), plus storage at the size needed " +
			"(or the provider's minimum); as published on the date shown and NOT verified online: check the provider's price list before buying.",
		"A pooler's own cost (a PgBouncer host, RDS Proxy, managed pooling) is not priced.",
	}
	return r
}

// Assumptions is the one line every format prints under a provider: what its prices assume and
// how old they are.
func (p ProviderReport) Assumptions() string {
	date := p.PriceDate
	if date == "" {
		date = "undated"
	}
	return fmt.Sprintf("%s, %s; on-demand, single-AZ, no HA or replicas; prices of %s, not read online", p.Region, p.Currency, date)
}

// alternativeText says how the other connection mode changes the answer.
func alternativeText(primary, alt *Choice, altDemand *Demand) string {
	a, b := primary.Pick, alt.Pick
	with := "With a pooler (PgBouncer, transaction mode)"
	if alt.Mode == ModeDirect {
		with = "Without the pooler"
	}
	switch {
	case a == nil && b == nil:
		return ""
	case b == nil:
		return fmt.Sprintf("%s no class carries it: %s.", with, altDemand.ConnectionsText)
	case a != nil && a.Class == b.Class:
		return ""
	case a == nil:
		return fmt.Sprintf("%s, %s (%s/month) carries it: %s.", with, b.Class, money(b.Price), altDemand.ConnectionsText)
	}
	cheaper := "a cheaper"
	if b.Price > a.Price {
		cheaper = "a dearer"
	}
	return fmt.Sprintf("%s the answer changes to %s class, %s (%s/month instead of %s): %s; its binding constraint is %s (%s used).",
		with, cheaper, b.Class, money(b.Price), money(a.Price), altDemand.ConnectionsText,
		constraintName(b.Binding), pct(1-b.Headroom))
}

// workloadWarnings are problems of the workload itself that no instance fixes.
func workloadWarnings(w *Workload, direct *Demand) []string {
	var out []string
	if direct.PoolConnections > 0 && float64(direct.PoolConnections) < direct.Little {
		out = append(out, fmt.Sprintf("the application's pools (%d instances × %d = %d connections) are smaller than the %s "+
			"connections Little's law needs at peak: requests will queue for a pool connection, whatever the instance",
			w.AppInstances, w.PoolSize, direct.PoolConnections, num(direct.Little)))
	}
	if w.P99ObjectiveS > 0 {
		if w.DBTimeS.Value > w.P99ObjectiveS {
			out = append(out, fmt.Sprintf("the mean time in the database per request (%s) is already above the p99 objective (%s): "+
				"a bigger instance does not make a request shorter", dur(w.DBTimeS.Value), dur(w.P99ObjectiveS)))
		} else if w.MeasuredP99S != nil && w.MeasuredP99S.Value > w.P99ObjectiveS {
			out = append(out, fmt.Sprintf("the measured request p99 (%s, %s) misses the p99 objective (%s) at the benchmark's load",
				dur(w.MeasuredP99S.Value), w.MeasuredP99S.Source, dur(w.P99ObjectiveS)))
		}
	}
	return out
}

// Cheapest returns, for each currency, the provider whose pick costs least, in the order the
// currencies first appear.
func (r *Report) Cheapest() []ProviderReport {
	var out []ProviderReport
	for _, p := range r.Providers {
		if p.Choice.Pick == nil {
			continue
		}
		i := slices.IndexFunc(out, func(o ProviderReport) bool { return o.Currency == p.Currency })
		switch {
		case i < 0:
			out = append(out, p)
		case p.Choice.Pick.Price < out[i].Choice.Pick.Price:
			out[i] = p
		}
	}
	return out
}
