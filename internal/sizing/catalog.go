package sizing

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// builtinCatalogs are the catalog files shipped with pgscale, one per provider.
//
//go:embed catalog/*.yaml
var builtinCatalogs embed.FS

// Catalog is every instance class pgscale can recommend, by provider.
type Catalog struct {
	Providers []*Provider `json:"providers"`
}

// Provider is one catalog file: a provider in one region, its rules, and its instance classes.
type Provider struct {
	ID       string `yaml:"provider" json:"provider"`
	Name     string `yaml:"name" json:"name"`
	Region   string `yaml:"region" json:"region"`
	Currency string `yaml:"currency" json:"currency"`

	// MaxConnectionsRule computes an entry's max_connections from its memory (rds, cloudsql,
	// azure), or explicit: every entry gives its own.
	MaxConnectionsRule   string `yaml:"max_connections_rule" json:"max_connections_rule"`
	MaxConnectionsSource string `yaml:"max_connections_source" json:"max_connections_source"`
	// ReservedConnections are the slots an application role cannot use (superuser_reserved,
	// replication, the provider's monitoring).
	ReservedConnections *int   `yaml:"reserved_connections" json:"reserved_connections"`
	ReservedSource      string `yaml:"reserved_source" json:"reserved_source"`
	// SharedBuffers is shared_buffers as a fraction of the instance's memory by default.
	SharedBuffers       float64 `yaml:"shared_buffers_fraction" json:"shared_buffers_fraction"`
	SharedBuffersSource string  `yaml:"shared_buffers_source" json:"shared_buffers_source"`

	// Storage is bought separately, per GiB-month, up to MaxStorageGiB (an entry with
	// storage_gib has its storage in its price instead).
	MaxStorageGiB float64  `yaml:"max_storage_gib" json:"max_storage_gib,omitempty"`
	MinStorageGiB float64  `yaml:"min_storage_gib" json:"min_storage_gib,omitempty"`
	StoragePrice  *float64 `yaml:"storage_price_gib_month" json:"storage_price_gib_month,omitempty"`
	StorageSource string   `yaml:"storage_source" json:"storage_source,omitempty"`

	// Defaults fill the provenance of entries that do not give their own.
	Defaults  Provenance `yaml:"defaults" json:"-"`
	Instances []Instance `yaml:"instances" json:"instances"`
	Notes     string     `yaml:"notes" json:"notes,omitempty"`

	// File is where the provider was read from ("built in: aws-rds.yaml" or a path).
	File string `yaml:"-" json:"file"`
}

// Provenance says where an entry's facts and price come from, and when they were read.
type Provenance struct {
	// Source names the documentation the vCPU, memory and max_connections facts come from.
	Source string `yaml:"source" json:"source"`
	// Read is the date (YYYY-MM-DD or YYYY-MM) the facts were read.
	Read string `yaml:"read" json:"read"`
	// PriceSource names the price list; PriceDate when the price was taken; PriceNote its
	// standing ("as published, verify").
	PriceSource string `yaml:"price_source" json:"price_source"`
	PriceDate   string `yaml:"price_date" json:"price_date"`
	PriceNote   string `yaml:"price_note" json:"price_note,omitempty"`
}

// Instance is one instance class.
type Instance struct {
	Class  string `yaml:"class" json:"class"`
	Family string `yaml:"family" json:"family"`
	// VCPU is the class's vCPU count; SustainedVCPU what it sustains without burst credits
	// (burstable and shared-core classes), VCPU when not given.
	VCPU          float64 `yaml:"vcpu" json:"vcpu"`
	SustainedVCPU float64 `yaml:"sustained_vcpu" json:"sustained_vcpu"`
	MemoryGiB     float64 `yaml:"memory_gib" json:"memory_gib"`
	// MaxConnections is the default max_connections: given, or computed by the provider's rule.
	MaxConnections int `yaml:"max_connections" json:"max_connections"`
	// StorageGiB is storage included in the price (self-hosted disks); 0: bought per GiB.
	StorageGiB float64 `yaml:"storage_gib" json:"storage_gib,omitempty"`
	// PriceMonth is the on-demand price per month (730 hours) in the provider's region and currency.
	PriceMonth float64 `yaml:"price_month" json:"price_month"`
	Provenance `yaml:",inline"`
	Notes      string `yaml:"notes" json:"notes,omitempty"`

	// Provider is the provider's ID; MaxConnectionsFrom says how MaxConnections was found.
	Provider           string `yaml:"-" json:"provider"`
	MaxConnectionsFrom string `yaml:"-" json:"max_connections_from"`
}

// Burstable says whether the class runs its CPU on credits: a burstable or shared-core family,
// or fewer sustained vCPU than vCPU.
func (in Instance) Burstable() bool {
	switch strings.ToLower(in.Family) {
	case "burstable", "shared-core":
		return true
	}
	return in.SustainedVCPU > 0 && in.SustainedVCPU < in.VCPU
}

// Provider returns the provider with the given ID.
func (c *Catalog) Provider(id string) *Provider {
	for _, p := range c.Providers {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// IDs lists the providers' IDs in catalog order.
func (c *Catalog) IDs() []string {
	ids := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		ids[i] = p.ID
	}
	return ids
}

// LoadCatalog reads the built-in catalog and then each of files. A file whose provider ID is
// already in the catalog replaces that provider (for example the same classes priced in another
// region). Problems in a user's file are usage errors naming the file, the entry and the field,
// all of them at once.
func LoadCatalog(files ...string) (*Catalog, error) {
	c := &Catalog{}
	entries, err := builtinCatalogs.ReadDir("catalog")
	if err != nil {
		return nil, fmt.Errorf("read built-in catalog: %w", err)
	}
	var errs []error
	for _, e := range entries {
		data, err := builtinCatalogs.ReadFile(path.Join("catalog", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in catalog: %w", err)
		}
		p, err := ParseProvider(data, "built in: "+e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.add(p)
	}
	if len(errs) > 0 {
		// A broken built-in file is pgscale's bug, not the user's.
		return nil, fmt.Errorf("built-in catalog: %w", errors.Join(errs...))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, usagef("--catalog %s: %v", f, unwrapPath(err)))
			continue
		}
		p, err := ParseProvider(data, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.add(p)
	}
	if len(errs) > 0 {
		return nil, joinUsage(errs)
	}
	return c, nil
}

func (c *Catalog) add(p *Provider) {
	for i, old := range c.Providers {
		if old.ID == p.ID {
			c.Providers[i] = p
			return
		}
	}
	c.Providers = append(c.Providers, p)
}

// ParseProvider decodes and validates one catalog file; name says where it came from in errors.
func ParseProvider(data []byte, name string) (*Provider, error) {
	var p Provider
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, usagef("catalog %s: empty file", name)
		}
		return nil, usagef("catalog %s: %s", name, yamlMessage(err))
	}
	p.File = name
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return &p, nil
}

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// resolve fills entries from the defaults and the provider's rule, and reports every problem.
func (p *Provider) resolve() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	switch {
	case p.ID == "":
		bad("provider: missing (an ID such as aws-rds or my-hardware)")
	case !providerID.MatchString(p.ID):
		bad("provider: %q is not an ID (lowercase letters, digits and dashes)", p.ID)
	}
	if p.Name == "" {
		bad("name: missing")
	}
	if p.Region == "" {
		bad("region: missing (the region the prices are for)")
	}
	if p.Currency == "" {
		bad("currency: missing (USD, EUR, ...)")
	}
	if !slices.Contains(ruleNames, p.MaxConnectionsRule) {
		bad("max_connections_rule: %q is not a rule; valid: %s", p.MaxConnectionsRule, strings.Join(ruleNames, ", "))
	}
	if p.MaxConnectionsSource == "" {
		bad("max_connections_source: missing (where the rule or the values come from)")
	}
	if p.ReservedConnections == nil {
		bad("reserved_connections: missing (superuser and replication slots an application cannot use; PostgreSQL's default is 3)")
	} else if *p.ReservedConnections < 0 {
		bad("reserved_connections: %d is negative", *p.ReservedConnections)
	}
	if p.ReservedSource == "" {
		bad("reserved_source: missing")
	}
	if p.SharedBuffers <= 0 || p.SharedBuffers >= 0.9 {
		bad("shared_buffers_fraction: %g; give the default shared_buffers as a fraction of memory, above 0 and below 0.9 (PostgreSQL's advice is 0.25)", p.SharedBuffers)
	}
	if p.SharedBuffersSource == "" {
		bad("shared_buffers_source: missing")
	}
	needStorage := false
	for _, in := range p.Instances {
		if in.StorageGiB == 0 {
			needStorage = true
		}
	}
	if needStorage {
		if p.MaxStorageGiB <= 0 {
			bad("max_storage_gib: missing (the largest volume an instance can have), or give every entry storage_gib")
		}
		if p.StoragePrice == nil || *p.StoragePrice < 0 {
			bad("storage_price_gib_month: missing (price of a GiB of storage per month), or give every entry storage_gib")
		}
		if p.StorageSource == "" {
			bad("storage_source: missing")
		}
	}
	if p.MinStorageGiB < 0 {
		bad("min_storage_gib: %g is negative", p.MinStorageGiB)
	}
	if len(p.Instances) == 0 {
		bad("instances: none")
	}
	seen := map[string]bool{}
	for i := range p.Instances {
		in := &p.Instances[i]
		where := fmt.Sprintf("instances[%d]", i)
		if in.Class != "" {
			where += " (" + in.Class + ")"
		}
		prefix := func(format string, args ...any) { bad(where+": "+format, args...) }
		in.Provider = p.ID
		fill(&in.Source, p.Defaults.Source)
		fill(&in.Read, p.Defaults.Read)
		fill(&in.PriceSource, p.Defaults.PriceSource)
		fill(&in.PriceDate, p.Defaults.PriceDate)
		fill(&in.PriceNote, p.Defaults.PriceNote)
		switch {
		case in.Class == "":
			prefix("class: missing")
		case seen[in.Class]:
			prefix("class: listed twice")
		}
		seen[in.Class] = true
		if in.Family == "" {
			prefix("family: missing (burstable, general, memory, shared-core, dedicated, ...)")
		}
		if in.VCPU <= 0 {
			prefix("vcpu: missing or not positive")
		}
		if in.SustainedVCPU == 0 {
			in.SustainedVCPU = in.VCPU
		} else if in.SustainedVCPU < 0 || in.SustainedVCPU > in.VCPU {
			prefix("sustained_vcpu: %g; must be above 0 and at most vcpu (%g)", in.SustainedVCPU, in.VCPU)
		}
		if in.MemoryGiB <= 0 {
			prefix("memory_gib: missing or not positive")
		}
		if in.PriceMonth <= 0 {
			prefix("price_month: missing or not positive (on-demand price per month in %s)", orDash(p.Currency))
		}
		if in.StorageGiB < 0 {
			prefix("storage_gib: %g is negative", in.StorageGiB)
		}
		if in.Source == "" {
			prefix("source: missing (where the facts come from; or give defaults.source)")
		}
		if in.PriceSource == "" {
			prefix("price_source: missing (the price list; or give defaults.price_source)")
		}
		for _, d := range []struct{ field, value string }{{"read", in.Read}, {"price_date", in.PriceDate}} {
			if d.value == "" {
				prefix("%s: missing (a date, YYYY-MM-DD or YYYY-MM)", d.field)
			} else if !validDate(d.value) {
				prefix("%s: %q is not a date (YYYY-MM-DD or YYYY-MM)", d.field, d.value)
			}
		}
		switch {
		case in.MaxConnections < 0:
			prefix("max_connections: %d is negative", in.MaxConnections)
		case in.MaxConnections > 0:
			in.MaxConnectionsFrom = "catalog"
		case p.MaxConnectionsRule == RuleExplicit:
			prefix("max_connections: missing (max_connections_rule is explicit)")
		case in.MemoryGiB > 0 && slices.Contains(ruleNames, p.MaxConnectionsRule):
			n, err := ruleMaxConnections(p.MaxConnectionsRule, in.MemoryGiB)
			if err != nil {
				prefix("max_connections: %v", err)
			}
			in.MaxConnections = n
			in.MaxConnectionsFrom = "rule " + p.MaxConnectionsRule
		}
		if p.ReservedConnections != nil && in.MaxConnections > 0 && in.MaxConnections <= *p.ReservedConnections {
			prefix("max_connections: %d leaves nothing after %d reserved", in.MaxConnections, *p.ReservedConnections)
		}
	}
	if len(errs) > 0 {
		return usagef("catalog %s: %s", p.File, strings.Join(errs, "; "))
	}
	sort.SliceStable(p.Instances, func(i, j int) bool { return p.Instances[i].PriceMonth < p.Instances[j].PriceMonth })
	return nil
}

// Reserved is the provider's reserved connections (0 when not given).
func (p *Provider) Reserved() int {
	if p.ReservedConnections == nil {
		return 0
	}
	return *p.ReservedConnections
}

func fill(dst *string, def string) {
	if *dst == "" {
		*dst = def
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func validDate(s string) bool {
	for _, layout := range []string{"2006-01-02", "2006-01"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// unwrapPath drops the *PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// yamlMessage turns a decoder error into one line: yaml.v3 reports every unknown field and
// type mismatch of a document together.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = strings.TrimPrefix(m, "yaml: ")
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// displayPath shortens a path for messages when it is under the working directory.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}
