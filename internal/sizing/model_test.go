package sizing

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// spec decodes a workload document and resolves it against cat.
func resolve(t *testing.T, cat *Catalog, doc string) *Workload {
	t.Helper()
	s, err := DecodeWorkload([]byte(doc), "test")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	w, err := s.Resolve(cat)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return w
}

func TestLittlesLaw(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	w := resolve(t, cat, `
requests: {peak_rate: 800, hold_time: 250ms, db_time: 5ms, cpu_time: 250us}
extra_connections: 0
`)
	direct := NewDemand(w, ModeDirect)
	if direct.Little != 200 || direct.Connections != 200 {
		t.Errorf("800 req/s × 250 ms: Little %g, connections %d; want 200", direct.Little, direct.Connections)
	}
	if !strings.Contains(direct.ConnectionsText, "800 req/s × 250 ms held per request = 200 connections") {
		t.Errorf("connections not stated: %s", direct.ConnectionsText)
	}
	pooled := NewDemand(w, ModePooler)
	if pooled.Connections != 4 {
		t.Errorf("through a pooler, 800 req/s × 5 ms: %d connections, want 4", pooled.Connections)
	}
	if math.Abs(direct.VCPU-0.2) > 1e-9 {
		t.Errorf("800 req/s × 250 µs: %g vCPU, want 0.2", direct.VCPU)
	}

	// Workers, extra connections and pools add up; pools larger than Little's law win.
	w = resolve(t, cat, `
requests: {peak_rate: 100, hold_time: 100ms}
app: {instances: 4, pool_size: 10}
queue: {workers: 20, job_rate: 50, job_db_time: 40ms}
extra_connections: 3
`)
	direct = NewDemand(w, ModeDirect)
	if direct.Little != 10 || direct.AppConnections != 40 || direct.Connections != 40+20+3 {
		t.Errorf("pools: Little %g, app %d, total %d; want 10, 40, 63", direct.Little, direct.AppConnections, direct.Connections)
	}
	// Through a pooler, the queue holds a connection per job in flight: 50/s × 40 ms = 2.
	if pooled = NewDemand(w, ModePooler); pooled.Connections != 10+2+3 {
		t.Errorf("pooled with queue: %d, want 15", pooled.Connections)
	}
}

// testProvider is a small catalog of four classes whose constraints the table test tightens one
// at a time.
func testProvider() *Provider {
	reserved := 3
	price := 0.1
	p := &Provider{
		ID: "test", Name: "test", Region: "r", Currency: "USD", MaxConnectionsRule: RuleExplicit, MaxConnectionsSource: "test",
		ReservedConnections: &reserved, ReservedSource: "test", SharedBuffers: 0.25, SharedBuffersSource: "test",
		MaxStorageGiB: 1000, StoragePrice: &price, StorageSource: "test",
		Defaults: Provenance{Source: "test", Read: "2026-11-23", PriceSource: "test", PriceDate: "2026-11-23"},
		Instances: []Instance{
			{Class: "small", Family: "f", VCPU: 2, MemoryGiB: 4, MaxConnections: 100, PriceMonth: 50},
			{Class: "medium", Family: "f", VCPU: 4, MemoryGiB: 16, MaxConnections: 200, PriceMonth: 100},
			{Class: "large-mem", Family: "f", VCPU: 4, MemoryGiB: 64, MaxConnections: 300, PriceMonth: 200},
			{Class: "large-cpu", Family: "f", VCPU: 16, MemoryGiB: 32, MaxConnections: 1000, PriceMonth: 400},
		},
		File: "test",
	}
	if err := p.resolve(); err != nil {
		panic(err)
	}
	return p
}

func TestChooserFollowsTheBindingConstraint(t *testing.T) {
	t.Parallel()
	p := testProvider()
	cat := &Catalog{Providers: []*Provider{p}}
	for _, c := range []struct {
		name        string
		doc         string
		pick        string
		binding     string
		cheaperFail string // the constraint the next cheaper class misses on
	}{
		{"light load fits the smallest", `requests: {peak_rate: 100, hold_time: 100ms, cpu_time: 1ms}`, "small", Connections, ""},
		// 500 × 250 ms = 125 + 5 = 130 connections: small has 97 usable, medium 197 (66%).
		{"connections", `requests: {peak_rate: 500, hold_time: 250ms, cpu_time: 1ms}`, "medium", Connections, Connections},
		// 45 connections, 40 of them active with 256 MiB of work_mem: 10.3 GiB, 90% of medium's
		// free memory, 22% of large-mem's.
		{"memory", `requests: {peak_rate: 40, hold_time: 1s, cpu_time: 10ms}
memory: {work_mem: 256MB}`, "large-mem", Memory, Memory},
		// 800 req/s × 8 ms = 6.4 vCPU: only large-cpu's 16 carry it.
		{"cpu", `requests: {peak_rate: 800, hold_time: 8ms, cpu_time: 8ms}`, "large-cpu", CPU, CPU},
		// Storage beyond 70% of 1000 GiB: nothing passes.
		{"storage", `requests: {peak_rate: 10, hold_time: 10ms}
data: {size: 800GB}`, "", Storage, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := resolve(t, cat, c.doc)
			ch := Choose(p, NewDemand(w, ModeDirect), w.Headroom.Value)
			if c.pick == "" {
				if ch.Pick != nil {
					t.Fatalf("picked %s; want none", ch.Pick.Class)
				}
				if !strings.Contains(ch.Why, "held by "+c.binding) {
					t.Errorf("why does not name %s: %s", c.binding, ch.Why)
				}
				return
			}
			if ch.Pick == nil {
				t.Fatalf("no pick; want %s. Why: %s", c.pick, ch.Why)
			}
			if ch.Pick.Class != c.pick || ch.Pick.Binding != c.binding {
				t.Errorf("pick %s bound by %s; want %s bound by %s (why: %s)", ch.Pick.Class, ch.Pick.Binding, c.pick, c.binding, ch.Why)
			}
			if !strings.HasPrefix(strings.ToLower(ch.Why), strings.ToLower(constraintName(c.binding))+", not ") {
				t.Errorf("why does not open with the binding constraint: %s", ch.Why)
			}
			// Every cheaper class fails, and the nearest one on the binding constraint.
			for _, e := range ch.Ranked {
				if e.Price < ch.Pick.Price && e.Pass {
					t.Errorf("%s is cheaper than the pick and passes", e.Class)
				}
			}
			if c.cheaperFail != "" {
				if ch.Cheaper == nil || ch.Cheaper.Check(c.cheaperFail).Status == StatusOK {
					t.Errorf("the cheaper class does not miss on %s: %+v", c.cheaperFail, ch.Cheaper)
				} else if !strings.Contains(ch.Why, "The cheaper "+ch.Cheaper.Class) {
					t.Errorf("why does not name the cheaper class: %s", ch.Why)
				}
			}
		})
	}
}

func TestHeadroomDecidesPass(t *testing.T) {
	t.Parallel()
	p := testProvider()
	cat := &Catalog{Providers: []*Provider{p}}
	// 64 + 5 = 69 connections on small's 97 usable: 71%, just over a 30% headroom, under 25%.
	doc := "requests: {peak_rate: 64, hold_time: 1s, cpu_time: 1ms}\n"
	for _, c := range []struct {
		headroom string
		pick     string
	}{{"0.3", "medium"}, {"0.25", "small"}} {
		w := resolve(t, cat, doc+"headroom: "+c.headroom+"\n")
		ch := Choose(p, NewDemand(w, ModeDirect), w.Headroom.Value)
		if ch.Pick == nil || ch.Pick.Class != c.pick {
			t.Errorf("headroom %s: pick %+v, want %s", c.headroom, ch.Pick, c.pick)
		}
	}
	e := Evaluate(p, p.Instances[0], NewDemand(resolve(t, cat, doc), ModeDirect), 0.3)
	if got := e.Check(Connections); got.Status != StatusTight {
		t.Errorf("69 of 97 at 30%% headroom: %s, want tight", got.Status)
	}
}

// The seed article: 800 req/s × 250 ms is 200 connections; on Cloud SQL connections decide, a
// budget of $1,000/month only doubles max_connections, and a pooler changes the answer.
func TestSeedOnCloudSQL(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t)
	w := resolve(t, cat, `
requests: {peak_rate: 800, hold_time: 250ms, db_time: 5ms, cpu_time: 250us, connects_per_request: 0.02}
data: {size: 50GB, growth_per_month: 20GB}
providers: [gcp-cloudsql]
`)
	r := Size(w, cat)
	pr := r.Providers[0]
	pick := pr.Choice.Pick
	if pick == nil || pick.Binding != Connections {
		t.Fatalf("Cloud SQL pick %+v; want one bound by connections", pick)
	}
	// db-n1-highmem-2: about $130 a month (the seed's figure), 13 GB.
	var hm2 *Instance
	for i, in := range cat.Provider("gcp-cloudsql").Instances {
		if in.Class == "db-n1-highmem-2" {
			hm2 = &cat.Provider("gcp-cloudsql").Instances[i]
		}
	}
	if hm2 == nil || math.Abs(hm2.PriceMonth-130) > 10 || hm2.MemoryGiB != 13 {
		t.Fatalf("db-n1-highmem-2: %+v; want ~$130/month, 13 GB", hm2)
	}
	sc := NewScaling(cat.Provider("gcp-cloudsql"), hm2, SeedBudget, false)
	if !strings.Contains(sc.Text, "×2.0 the connections") {
		t.Errorf("from db-n1-highmem-2, $1,000/month should only double max_connections: %s", sc.Text)
	}
	if pr.Alternative.Pick == nil || pr.Alternative.Pick.Price >= pick.Price || pr.AlternativeText == "" {
		t.Errorf("with a pooler the answer should change to a cheaper class: %+v / %q", pr.Alternative.Pick, pr.AlternativeText)
	}
}

// TestSeedCatalogPutsHighmem2AtItsLimit sizes the seed workload with examples/catalog-cloudsql-article.yaml,
// where db-n1-highmem-2 has the seed article's 200 connections: it cannot carry the 205 needed;
// through a pooler a smaller class does. Four times highmem-2's price buys at most ×1.5 on the
// built-in catalog (the "doubles at most").
func TestSeedCatalogPutsHighmem2AtItsLimit(t *testing.T) {
	t.Parallel()
	cat := loadCatalog(t, filepath.Join("..", "..", "examples", "catalog-cloudsql-article.yaml"))
	w := resolve(t, cat, `
requests: {peak_rate: 800, hold_time: 250ms, db_time: 5ms, cpu_time: 250us, connects_per_request: 0.02}
data: {size: 50GB, growth_per_month: 20GB}
providers: [gcp-cloudsql-article]
`)
	pr := Size(w, cat).Providers[0]
	if pr.Choice.Pick != nil {
		t.Errorf("seed catalog: pick %s; want none (highmem-2 at its limit)", pr.Choice.Pick.Class)
	}
	for _, e := range pr.Choice.Ranked {
		if e.Class == "db-n1-highmem-2" {
			if c := e.Check(Connections); e.MaxConnections != 200 || c.Status != StatusFail || c.Need != 205 || c.Capacity != 197 {
				t.Errorf("highmem-2: max_connections %d, connections %+v; want 200, 205 of 197 failing", e.MaxConnections, c)
			}
		}
	}
	if a := pr.Alternative.Pick; a == nil || a.Class != "db-g1-small" {
		t.Errorf("through a pooler: %+v; want db-g1-small", a)
	}
	// No pick: the scale-up advice starts from the cheapest class that is not shared-core, and
	// never names db-g1-small, unless the workload allows burst.
	if sc := pr.Scaling; !strings.HasPrefix(sc.Text, "from db-n1-standard-1 ") || strings.Contains(sc.Text+sc.FourTimesText, "db-g1") {
		t.Errorf("scale-up advice names a shared-core class: %q / %q", sc.Text, sc.FourTimesText)
	}
	if sc := NewScaling(cat.Provider("gcp-cloudsql-article"), nil, SeedBudget, true); !strings.Contains(sc.Text, "from db-g1-small ") {
		t.Errorf("allow_burst: the advice should start from db-g1-small: %q", sc.Text)
	}
	builtin := cat.Provider("gcp-cloudsql")
	for _, in := range builtin.Instances {
		if in.Class == "db-n1-highmem-2" {
			if in.MaxConnections != 400 {
				t.Errorf("built-in highmem-2 has %d; the table as collected gives 400", in.MaxConnections)
			}
			if s := NewScaling(builtin, &in, SeedBudget, false); !strings.Contains(s.FourTimesText, "at most 600") || !strings.Contains(s.FourTimesText, "×1.5 the connections") {
				t.Errorf("four times highmem-2's price: %s", s.FourTimesText)
			}
		}
	}
}
