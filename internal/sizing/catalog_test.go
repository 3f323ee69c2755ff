package sizing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadCatalog(t *testing.T, files ...string) *Catalog {
	t.Helper()
	cat, err := LoadCatalog(files...)
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	return cat
}

func TestCatalogEveryEntryHasSourceAndDate(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	for _, id := range []string{"aws-rds", "gcp-cloudsql", "azure-flexible"} {
		if cat.Provider(id) == nil {
			t.Errorf("built-in catalog has no provider %s", id)
		}
	}
	n := 0
	for _, p := range cat.Providers {
		if p.MaxConnectionsSource == "" || p.ReservedSource == "" || p.SharedBuffersSource == "" || p.StorageSource == "" {
			t.Errorf("%s: a provider-level source is empty", p.ID)
		}
		for _, in := range p.Instances {
			n++
			where := p.ID + " " + in.Class
			if in.Source == "" || in.PriceSource == "" {
				t.Errorf("%s: source %q, price source %q", where, in.Source, in.PriceSource)
			}
			for name, d := range map[string]string{"read": in.Read, "price_date": in.PriceDate} {
				if !validDate(d) {
					t.Errorf("%s: %s %q is not a date", where, name, d)
				}
				// A date in the future cannot be when something was read.
				if tm, err := time.Parse("2006-01-02", d); err == nil && tm.After(time.Now()) {
					t.Errorf("%s: %s %s is in the future", where, name, d)
				}
			}
			if !strings.Contains(in.PriceNote, "verify") {
				t.Errorf("%s: price note %q does not say the price must be verified", where, in.PriceNote)
			}
			if in.PriceMonth <= 0 || in.VCPU <= 0 || in.MemoryGiB <= 0 || in.SustainedVCPU <= 0 {
				t.Errorf("%s: price %g, vcpu %g (sustained %g), memory %g", where, in.PriceMonth, in.VCPU, in.SustainedVCPU, in.MemoryGiB)
			}
			if in.MaxConnections <= p.Reserved() || in.MaxConnectionsFrom == "" {
				t.Errorf("%s: max_connections %d (from %q) with %d reserved", where, in.MaxConnections, in.MaxConnectionsFrom, p.Reserved())
			}
		}
	}
	if n < 60 {
		t.Errorf("built-in catalog has %d entries; want the RDS, Cloud SQL and Azure classes (60 or more)", n)
	}
}

func TestCatalogClassesFollowTheProvidersRules(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	// The Azure table as documented (cloud-max-connections.md), SKU by SKU.
	azure := map[string]int{"B1ms": 50, "B2s": 429, "B2ms": 859, "B4ms": 1718, "B8ms": 3437, "B12ms": 5000, "B20ms": 5000,
		"D2ds_v5": 859, "D4ds_v5": 1718, "D8ds_v5": 3437, "D16ds_v5": 5000, "E2ds_v5": 1718, "E4ds_v5": 3437}
	// Cloud SQL by memory band; db-n1-highmem-2 (13 GB) is in the 7.5-15 GB band: 400, where
	// the seed article says 200.
	cloudsql := map[string]int{"db-f1-micro": 25, "db-g1-small": 50, "db-n1-standard-1": 100, "db-n1-standard-2": 400,
		"db-n1-highmem-2": 400, "db-n1-standard-4": 500, "db-n1-highmem-16": 800, "db-n1-standard-32": 1000}
	// RDS: the formula with the fitted reserve (users saw 198 and 413 on 2 and 4 GiB); 64 GiB and
	// up is capped.
	rds := map[string]int{"db.t3.small": 198, "db.t3.medium": 414, "db.m5.large": 854, "db.r5.large": 1745, "db.m5.4xlarge": 5000}
	for id, want := range map[string]map[string]int{"azure-flexible": azure, "gcp-cloudsql": cloudsql, "aws-rds": rds} {
		p := cat.Provider(id)
		got := map[string]int{}
		for _, in := range p.Instances {
			got[in.Class] = in.MaxConnections
		}
		for class, n := range want {
			if got[class] != n {
				t.Errorf("%s %s: max_connections %d, want %d", id, class, got[class], n)
			}
		}
	}
	if r := cat.Provider("azure-flexible").Reserved(); r != 15 {
		t.Errorf("azure reserved connections %d, want 15", r)
	}
}

func TestRDSFormula(t *testing.T) {
	t.Parallel()
	// What users observed on RDS (cloud-max-connections.md): the fitted reserve must give them back.
	for _, c := range []struct {
		class  string
		memGiB float64
		want   int
	}{
		{"db.t2.small", 2, 198}, {"db.t2.medium", 4, 413}, {"db.t2.large", 8, 856}, {"db.r4.large", 15.25, 1660},
	} {
		got := RDSMaxConnections(c.memGiB)
		if d := got - c.want; d < -3 || d > 3 {
			t.Errorf("%s (%g GiB): %d, want %d ± 3", c.class, c.memGiB, got, c.want)
		}
		// Against the nominal memory the formula would overstate: the reserve matters.
		if naive := int(c.memGiB * gib / rdsBytesPerConnection); naive <= got {
			t.Errorf("%s: estimate %d not below nominal %d", c.class, got, naive)
		}
	}
	for _, mem := range []float64{48, 64, 256, 768} {
		if got := RDSMaxConnections(mem); got != 5000 {
			t.Errorf("%g GiB: %d, want the cap 5000", mem, got)
		}
	}
	prev := 0
	for mem := 0.5; mem <= 64; mem *= 2 {
		got := RDSMaxConnections(mem)
		if got < prev {
			t.Errorf("%g GiB: %d, fewer than %d at half the memory", mem, got, prev)
		}
		prev = got
	}
}

func TestCloudSQLTable(t *testing.T) {
	t.Parallel()
	for mem, want := range map[float64]int{0.6: 25, 1.7: 50, 3.75: 100, 5.99: 100, 6: 200, 6.5: 200, 7.5: 400, 13: 400,
		14.99: 400, 15: 500, 26: 500, 30: 600, 52: 600, 60: 800, 104: 800, 120: 1000, 624: 1000} {
		if got := CloudSQLMaxConnections(mem); got != want {
			t.Errorf("%g GiB: %d, want %d", mem, got, want)
		}
	}
}

func TestAzureTable(t *testing.T) {
	t.Parallel()
	for mem, want := range map[float64]int{2: 50, 4: 429, 8: 859, 16: 1718, 32: 3437, 48: 5000, 64: 5000, 512: 5000} {
		got, err := AzureMaxConnections(mem)
		if err != nil || got != want {
			t.Errorf("%g GiB: %d, %v; want %d", mem, got, err, want)
		}
	}
	if _, err := AzureMaxConnections(12); err == nil || !strings.Contains(err.Error(), "no row for 12 GiB") {
		t.Errorf("12 GiB: %v, want an error naming the missing row", err)
	}
}

func TestUserCatalogAddsAndReplaces(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t, filepath.Join("..", "..", "examples", "catalog-selfhosted.yaml"))
	p := cat.Provider("self-hosted")
	if p == nil || len(p.Instances) != 3 {
		t.Fatalf("self-hosted provider not loaded: %+v", p)
	}
	if in := p.Instances[0]; in.MaxConnections != 500 || in.MaxConnectionsFrom != "catalog" || in.Source == "" {
		t.Errorf("first self-hosted entry: %+v", in)
	}

	// A file with a built-in provider's ID replaces it.
	dir := t.TempDir()
	f := filepath.Join(dir, "rds-eu.yaml")
	writeFile(t, f, `provider: aws-rds
name: AWS RDS for PostgreSQL
region: eu-west-1
currency: USD
max_connections_rule: rds
max_connections_source: "RDS formula"
reserved_connections: 3
reserved_source: "default"
shared_buffers_fraction: 0.25
shared_buffers_source: "RDS default"
max_storage_gib: 65536
storage_price_gib_month: 0.127
storage_source: "my price list"
defaults: {source: "RDS docs", read: "2026-11-23", price_source: "my price list", price_date: "2026-11-23"}
instances:
  - {class: db.m6g.large, family: general, vcpu: 2, memory_gib: 8, price_month: 120}
`)
	cat = loadCatalog(t, f)
	p = cat.Provider("aws-rds")
	if p.Region != "eu-west-1" || len(p.Instances) != 1 || p.Instances[0].MaxConnections != RDSMaxConnections(8) {
		t.Errorf("replaced provider: region %s, %d instances, %+v", p.Region, len(p.Instances), p.Instances)
	}
	if len(cat.Providers) != 3 {
		t.Errorf("%d providers after a replacement, want 3", len(cat.Providers))
	}
}

func TestBadCatalogNamesEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "mine.yaml")
	writeFile(t, f, `provider: My Hardware
name: mine
region: here
currency: EUR
max_connections_rule: explicit
max_connections_source: "what I set"
reserved_connections: 3
reserved_source: "default"
shared_buffers_fraction: 0.25
shared_buffers_source: "advice"
instances:
  - {class: big, family: dedicated, vcpu: 16, memory_gib: 128, storage_gib: 2000, price_month: 150, source: "spec sheet", read: "2026-11-23", price_source: "quote", price_date: "yesterday"}
  - {class: small, family: dedicated, vcpu: 4, memory_gib: 32, max_connections: 200, storage_gib: 500, price_month: 60, read: "2026-11-23", price_source: "quote", price_date: "2026-11"}
`)
	_, err := LoadCatalog(f)
	if err == nil || !IsUsage(err) {
		t.Fatalf("LoadCatalog: %v, want a usage error", err)
	}
	for _, want := range []string{
		`provider: "My Hardware" is not an ID`,
		`instances[0] (big): price_date: "yesterday" is not a date`,
		`instances[0] (big): max_connections: missing (max_connections_rule is explicit)`,
		`instances[1] (small): source: missing`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	writeFile(t, f, "provider: x\nnmae: typo\n")
	if _, err := LoadCatalog(f); err == nil || !strings.Contains(err.Error(), "field nmae not found") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := LoadCatalog(filepath.Join(dir, "missing.yaml")); err == nil || !IsUsage(err) ||
		!strings.Contains(err.Error(), "--catalog") {
		t.Errorf("missing file: %v", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
