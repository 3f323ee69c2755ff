package result

// Capacity is the result of a capacity search (pgscale run --capacity): the highest open-loop
// rate that met the SLO, every probe, and what bound the first rate that broke it.
type Capacity struct {
	// RatePerS is the highest rate probed that met the SLO; 0 when none did.
	RatePerS float64 `json:"rate_per_s"`
	SLO      string  `json:"slo"`
	// Unit is what a rate counts ("ops/s", or the scenario's headline unit such as rows/s).
	Unit string `json:"unit"`
	// ProbeDurationS and ProbeWarmupS are each probe's measured length and warm-up.
	ProbeDurationS float64         `json:"probe_duration_s"`
	ProbeWarmupS   float64         `json:"probe_warmup_s"`
	Probes         []CapacityProbe `json:"probes"`
	// BrokenAtPerS is the lowest rate probed that broke the SLO (absent when none did, up to
	// the search's ceiling), and Diagnosis what bound it there.
	BrokenAtPerS *float64   `json:"broken_at_per_s,omitempty"`
	Diagnosis    *Diagnosis `json:"diagnosis,omitempty"`
	// Sentence is the search in one sentence, as the console ends with it.
	Sentence string `json:"sentence"`
}

// CapacityProbe is one rate tried; Series indexes the result's series that measured it.
type CapacityProbe struct {
	Phase          string  `json:"phase"` // ramp | bisect
	RatePerS       float64 `json:"rate_per_s"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	Met            bool    `json:"met"`
	// Broke names the SLO terms it broke ("p99 61.2 ms >= 50 ms"), or "fell behind".
	Broke  []string `json:"broke,omitempty"`
	Series int      `json:"series"`
}
