package sizing

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Connection modes: the application connects to PostgreSQL directly, or through a
// transaction-mode pooler (PgBouncer) that lends a server connection for each transaction.
const (
	ModeDirect = "direct"
	ModePooler = "pooler"
)

// The four constraints.
const (
	Connections = "connections"
	Memory      = "memory"
	CPU         = "cpu"
	Storage     = "storage"
)

// Check statuses: ok within the headroom, tight when it fits only by eating the headroom.
const (
	StatusOK    = "ok"
	StatusTight = "tight"
	StatusFail  = "fail"
)

// Demand is what the workload needs of an instance, in one connection mode. Each *Text field
// states the arithmetic.
type Demand struct {
	Mode string `json:"mode"`

	// Little is Little's law: requests in flight = rate × time each holds a connection
	// (direct: hold_time; pooler: db_time, the time a server connection is lent).
	Little          float64 `json:"littles_law_connections"`
	PoolConnections int     `json:"pool_connections"`
	AppConnections  int     `json:"app_connections"`
	Workers         int     `json:"worker_connections"`
	Extra           int     `json:"extra_connections"`
	Connections     int     `json:"connections"`
	// Active are connections running a query at any moment: they hold work_mem.
	Active          float64 `json:"active_connections"`
	ConnectionsText string  `json:"connections_text"`

	MemoryMiB  float64 `json:"memory_mib"`
	MemoryText string  `json:"memory_text"`

	VCPU    float64 `json:"vcpu"`
	CPUText string  `json:"cpu_text"`

	StorageGiB  float64 `json:"storage_gib"`
	StorageText string  `json:"storage_text"`
}

// NewDemand applies the model to a workload in one mode.
func NewDemand(w *Workload, mode string) *Demand {
	d := &Demand{Mode: mode, Extra: int(w.ExtraConnections.Value)}
	rate := w.Rate.Value
	var parts []string
	if mode == ModeDirect {
		d.Little = rate * w.HoldTimeS.Value
		parts = append(parts, fmt.Sprintf("Little's law: %s req/s × %s held per request = %s connections",
			num(rate), dur(w.HoldTimeS.Value), num(d.Little)))
		d.AppConnections = ceil(d.Little)
		if w.AppInstances > 0 {
			d.PoolConnections = w.AppInstances * w.PoolSize
			if d.PoolConnections > d.AppConnections {
				d.AppConnections = d.PoolConnections
				parts = append(parts, fmt.Sprintf("the pools open more: %d instances × pool %d = %d",
					w.AppInstances, w.PoolSize, d.PoolConnections))
			}
		}
		d.Workers = w.QueueWorkers
	} else {
		d.Little = rate * w.DBTimeS.Value
		d.AppConnections = ceil(d.Little)
		parts = append(parts, fmt.Sprintf("through the pooler: %s req/s × %s in the database per request = %s server connections",
			num(rate), dur(w.DBTimeS.Value), num(d.Little)))
		d.Workers = w.QueueWorkers
		if w.JobRate > 0 {
			d.Workers = min(w.QueueWorkers, ceil(w.JobRate*w.JobTimeS.Value))
		}
	}
	if d.Workers > 0 {
		if mode == ModePooler && w.JobRate > 0 {
			parts = append(parts, fmt.Sprintf("+ %d for the queue (%s jobs/s × %s)", d.Workers, num(w.JobRate), dur(w.JobTimeS.Value)))
		} else {
			parts = append(parts, fmt.Sprintf("+ %d queue workers", d.Workers))
		}
	}
	if d.Extra > 0 {
		parts = append(parts, fmt.Sprintf("+ %d extra", d.Extra))
	}
	d.Connections = d.AppConnections + d.Workers + d.Extra
	d.ConnectionsText = strings.Join(parts, "; ") + fmt.Sprintf(" → %d connections", d.Connections)

	// Active connections: requests and jobs inside the database right now.
	d.Active = math.Min(rate*w.DBTimeS.Value+w.JobRate*w.JobTimeS.Value, float64(d.Connections))
	d.MemoryMiB = float64(d.Connections)*w.PerConnectionMiB.Value + d.Active*w.WorkMemMiB.Value
	d.MemoryText = fmt.Sprintf("%d connections × %s MiB + %s active × %s MiB work_mem = %s MiB for backends, "+
		"after shared_buffers and the system's reserve", d.Connections, num(w.PerConnectionMiB.Value),
		num(d.Active), num(w.WorkMemMiB.Value), num(d.MemoryMiB))

	// CPU: vCPU-seconds per second.
	perRequest := w.CPUTimeS.Value
	var cpuParts []string
	if mode == ModeDirect && w.ConnectsPerRequest.Value > 0 {
		perRequest += w.ConnectsPerRequest.Value * w.ConnectCPUS.Value
		cpuParts = append(cpuParts, fmt.Sprintf("%s req/s × (%s CPU + %s connects × %s)",
			num(rate), dur(w.CPUTimeS.Value), num(w.ConnectsPerRequest.Value), dur(w.ConnectCPUS.Value)))
	} else {
		cpuParts = append(cpuParts, fmt.Sprintf("%s req/s × %s CPU", num(rate), dur(perRequest)))
	}
	d.VCPU = rate * perRequest
	if w.JobRate > 0 {
		d.VCPU += w.JobRate * w.JobCPUS.Value
		cpuParts = append(cpuParts, fmt.Sprintf("+ %s jobs/s × %s", num(w.JobRate), dur(w.JobCPUS.Value)))
	}
	if w.IngestRowsPerS > 0 {
		d.VCPU += w.IngestRowsPerS * w.CPUPerRowS.Value
		cpuParts = append(cpuParts, fmt.Sprintf("+ %s rows/s × %s", num(w.IngestRowsPerS), dur(w.CPUPerRowS.Value)))
	}
	d.CPUText = strings.Join(cpuParts, " ") + fmt.Sprintf(" = %s vCPU", num(d.VCPU))

	// Storage.
	grown := w.DataGiB + w.GrowthGiBMonth*w.HorizonMonths.Value
	saving, savingText := 0.0, ""
	if w.Columns != nil {
		saving, savingText = w.Columns.Fraction, " × "+w.Columns.text()
	}
	d.StorageGiB = grown * (1 - saving) * (1 + w.Bloat.Value + w.Indexes.Value)
	if d.StorageGiB > 0 {
		d.StorageText = fmt.Sprintf("(%s GiB + %s GiB/month × %s months)%s × (1 + %s bloat + %s indexes) = %s GiB",
			num(w.DataGiB), num(w.GrowthGiBMonth), num(w.HorizonMonths.Value), savingText, num(w.Bloat.Value), num(w.Indexes.Value), num(d.StorageGiB))
	} else {
		d.StorageText = "no data size given"
	}
	return d
}

// Check is one constraint of one instance.
type Check struct {
	Name     string  `json:"name"`
	Need     float64 `json:"need"`
	Capacity float64 `json:"capacity"`
	Unit     string  `json:"unit"`
	// Util is Need / Capacity.
	Util   float64 `json:"utilization"`
	Status string  `json:"status"`
	Detail string  `json:"detail"`
}

// Evaluation is one instance class against a demand.
type Evaluation struct {
	Instance
	Usable int `json:"usable_connections"`
	// Price is InstancePrice + StoragePrice per month.
	InstancePrice float64 `json:"instance_price_month"`
	StoragePrice  float64 `json:"storage_price_month"`
	Price         float64 `json:"price_month"`
	Checks        []Check `json:"checks"`
	// Pass: every check within the headroom.
	Pass bool `json:"pass"`
	// Binding is the constraint with the highest utilization; Headroom what it leaves.
	Binding  string   `json:"binding"`
	Headroom float64  `json:"headroom"`
	Failing  []string `json:"failing,omitempty"`
}

// Check returns the evaluation's check of the named constraint.
func (e *Evaluation) Check(name string) Check {
	for _, c := range e.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

// Evaluate checks one instance of p against d with the given headroom (0.3: a need may use at
// most 70% of a capacity).
func Evaluate(p *Provider, in Instance, d *Demand, headroom float64) Evaluation {
	e := Evaluation{Instance: in, InstancePrice: in.PriceMonth}
	e.Usable = in.MaxConnections - p.Reserved()

	conn := check(Connections, float64(d.Connections), float64(e.Usable), "connections", headroom)
	conn.Detail = fmt.Sprintf("%d of %d usable (max_connections %d − %d reserved)", d.Connections, e.Usable, in.MaxConnections, p.Reserved())

	sbMiB := p.SharedBuffers * in.MemoryGiB * 1024
	sysMiB := SystemReserveMiB(in.MemoryGiB)
	freeMiB := math.Max(in.MemoryGiB*1024-sbMiB-sysMiB, 0)
	mem := check(Memory, d.MemoryMiB, freeMiB, "MiB", headroom)
	mem.Detail = fmt.Sprintf("%s of %s free (%s GiB − %g%% shared_buffers − %s system)",
		mibText(d.MemoryMiB), mibText(freeMiB), num(in.MemoryGiB), p.SharedBuffers*100, mibText(sysMiB))

	cpu := check(CPU, d.VCPU, in.SustainedVCPU, "vCPU", headroom)
	cpu.Detail = fmt.Sprintf("%s of %s vCPU", num(d.VCPU), num(in.SustainedVCPU))
	if in.SustainedVCPU < in.VCPU {
		cpu.Detail = fmt.Sprintf("%s of %s sustained vCPU (%s on burst credits)", num(d.VCPU), num(in.SustainedVCPU), num(in.VCPU))
	}

	storageCap := p.MaxStorageGiB
	if in.StorageGiB > 0 {
		storageCap = in.StorageGiB
	} else if p.StoragePrice != nil {
		bought := math.Max(d.StorageGiB, p.MinStorageGiB)
		e.StoragePrice = round2(bought * *p.StoragePrice)
	}
	st := check(Storage, d.StorageGiB, storageCap, "GiB", headroom)
	st.Detail = fmt.Sprintf("%s GiB of %s GiB", num(d.StorageGiB), num(storageCap))
	if in.StorageGiB == 0 && p.StoragePrice != nil {
		st.Detail += fmt.Sprintf(", bought at %s/GiB-month", money(*p.StoragePrice))
	}

	e.Checks = []Check{conn, mem, cpu, st}
	e.Price = round2(e.InstancePrice + e.StoragePrice)
	e.Pass = true
	worst := -1.0
	for _, c := range e.Checks {
		if c.Status != StatusOK {
			e.Pass = false
		}
		if c.Status == StatusFail {
			e.Failing = append(e.Failing, c.Name)
		}
		if c.Util > worst {
			worst, e.Binding = c.Util, c.Name
		}
	}
	e.Headroom = 1 - worst
	return e
}

// noCapacity is the utilization of a need against no capacity at all (kept finite for JSON).
const noCapacity = 1e6

func check(name string, need, capacity float64, unit string, headroom float64) Check {
	c := Check{Name: name, Need: need, Capacity: capacity, Unit: unit}
	switch {
	case capacity > 0:
		c.Util = need / capacity
	case need > 0:
		c.Util = noCapacity
	}
	// A small tolerance so that a need of exactly 70% passes a 30% headroom.
	const eps = 1e-9
	switch {
	case c.Util <= 1-headroom+eps:
		c.Status = StatusOK
	case c.Util <= 1+eps:
		c.Status = StatusTight
	default:
		c.Status = StatusFail
	}
	return c
}

// Choice is the recommendation for one provider in one mode.
type Choice struct {
	Mode string `json:"mode"`
	// Pick is the cheapest class that passes; nil when none does.
	Pick *Evaluation `json:"pick"`
	// RunnersUp are the next cheapest classes that pass.
	RunnersUp []Evaluation `json:"runners_up"`
	// Cheaper is the most expensive class cheaper than the pick (it fails): why not less.
	Cheaper *Evaluation `json:"cheaper,omitempty"`
	// Ranked is every class by price.
	Ranked []Evaluation `json:"ranked"`
	Why    string       `json:"why"`
}

// runnersUp is how many passing classes after the pick are shown.
const runnersUp = 2

// Choose evaluates every class of p and picks the cheapest that passes.
func Choose(p *Provider, d *Demand, headroom float64) *Choice {
	c := &Choice{Mode: d.Mode}
	for _, in := range p.Instances {
		c.Ranked = append(c.Ranked, Evaluate(p, in, d, headroom))
	}
	sort.SliceStable(c.Ranked, func(i, j int) bool { return c.Ranked[i].Price < c.Ranked[j].Price })
	for i := range c.Ranked {
		e := &c.Ranked[i]
		switch {
		case !e.Pass:
			if c.Pick == nil {
				c.Cheaper = e
			}
		case c.Pick == nil:
			c.Pick = e
		case len(c.RunnersUp) < runnersUp:
			c.RunnersUp = append(c.RunnersUp, *e)
		}
	}
	c.Why = why(p, c, d, headroom)
	return c
}

// why says, in a sentence or two computed from the checks, what decides the pick.
func why(p *Provider, c *Choice, d *Demand, headroom float64) string {
	if c.Pick == nil {
		if len(c.Ranked) == 0 {
			return "the catalog has no classes for " + p.ID
		}
		top := c.Ranked[len(c.Ranked)-1]
		for _, e := range c.Ranked {
			if e.Headroom > top.Headroom {
				top = e
			}
		}
		bc := top.Check(top.Binding)
		return fmt.Sprintf("no class carries it with %s headroom: even %s is held by %s (%s, %s).",
			pct(headroom), top.Class, top.Binding, bc.Detail, pct(bc.Util))
	}
	e := c.Pick
	bc := e.Check(e.Binding)
	// The runner-up constraint: the next highest utilization.
	second := ""
	var secondUtil float64 = -1
	for _, ch := range e.Checks {
		if ch.Name != e.Binding && ch.Util > secondUtil {
			second, secondUtil = ch.Name, ch.Util
		}
	}
	s := fmt.Sprintf("%s, not %s, decide%s: %s; %s has %s: %s used.",
		upperFirst(constraintName(e.Binding)), constraintName(second), plural(e.Binding),
		demandText(d, e.Binding), e.Class, bc.Detail, pct(bc.Util))
	if c.Cheaper != nil {
		ch := c.Cheaper
		var fails []string
		for _, x := range ch.Checks {
			if x.Status != StatusOK {
				fails = append(fails, fmt.Sprintf("%s (%s used)", constraintName(x.Name), pct(x.Util)))
			}
		}
		s += fmt.Sprintf(" The cheaper %s (%s) misses on %s.", ch.Class, money(ch.Price), strings.Join(fails, ", "))
	}
	return s
}

func demandText(d *Demand, name string) string {
	switch name {
	case Connections:
		return d.ConnectionsText
	case Memory:
		return d.MemoryText
	case CPU:
		return d.CPUText
	default:
		return d.StorageText
	}
}

func constraintName(n string) string {
	if n == CPU {
		return "CPU"
	}
	return n
}

func plural(n string) string {
	if n == Connections {
		return ""
	}
	return "s"
}

func upperFirst(s string) string {
	if s == "" || s == "CPU" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ScalePoint is a class that raises max_connections over every cheaper class of its provider.
type ScalePoint struct {
	Class          string  `json:"class"`
	Price          float64 `json:"instance_price_month"`
	MemoryGiB      float64 `json:"memory_gib"`
	MaxConnections int     `json:"max_connections"`
}

// Scaling is how max_connections grows with price for one provider, from its catalog.
type Scaling struct {
	Frontier []ScalePoint `json:"frontier"`
	// Text compares the anchor class with the most connections Budget buys; FourTimesText with
	// the most that four times the anchor's price buys.
	Budget        float64 `json:"budget_month"`
	Text          string  `json:"text"`
	FourTimesText string  `json:"four_times_text,omitempty"`
}

// SeedBudget is the article's "$1,000/month Postgres instance".
const SeedBudget = 1000.0

// NewScaling computes the frontier of max_connections against price, and what budget (and up
// to four times the anchor's price) buys compared with anchor (the pick, or the cheapest class).
// Burstable and shared-core classes are never on the frontier, so never the advice to scale up
// to, unless allowBurst: their CPU runs on credits that a sustained load spends.
func NewScaling(p *Provider, anchor *Instance, budget float64, allowBurst bool) Scaling {
	s := Scaling{Budget: budget}
	var byPrice []Instance
	for _, in := range p.Instances {
		if allowBurst || !in.Burstable() {
			byPrice = append(byPrice, in)
		}
	}
	sort.SliceStable(byPrice, func(i, j int) bool { return byPrice[i].PriceMonth < byPrice[j].PriceMonth })
	best := 0
	for _, in := range byPrice {
		if in.MaxConnections > best {
			best = in.MaxConnections
			s.Frontier = append(s.Frontier, ScalePoint{in.Class, in.PriceMonth, in.MemoryGiB, in.MaxConnections})
		}
	}
	if anchor == nil && len(byPrice) > 0 {
		anchor = &byPrice[0]
	}
	if anchor == nil {
		return s
	}
	s.Text = s.buys(anchor, budget, money(budget)+"/month")
	// Four times the price says something of its own only when it reaches another class than
	// the budget does.
	if anchor.PriceMonth > 0 && s.top(4*anchor.PriceMonth) != s.top(budget) {
		s.FourTimesText = s.buys(anchor, 4*anchor.PriceMonth, "up to 4× its price ("+money(4*anchor.PriceMonth)+"/month)")
	}
	return s
}

// buys says how many max_connections budget buys compared with anchor; "" when the anchor
// costs budget or more.
func (s Scaling) buys(anchor *Instance, budget float64, what string) string {
	if anchor.PriceMonth >= budget {
		return ""
	}
	top := s.top(budget)
	if top == nil || top.MaxConnections <= anchor.MaxConnections {
		return fmt.Sprintf("nothing for %s has more max_connections than %s (%d).",
			what, anchor.Class, anchor.MaxConnections)
	}
	return fmt.Sprintf("from %s (%s/month, max_connections %d), %s buys at most %d (%s, %s): "+
		"×%.1f the connections for ×%.1f the price.",
		anchor.Class, money(anchor.PriceMonth), anchor.MaxConnections, what, top.MaxConnections,
		top.Class, money(top.Price), float64(top.MaxConnections)/float64(anchor.MaxConnections), top.Price/anchor.PriceMonth)
}

// top is the class with the most max_connections that budget buys, or nil.
func (s Scaling) top(budget float64) *ScalePoint {
	var top *ScalePoint
	for i := range s.Frontier {
		// A cent of tolerance: four times a price rounded to cents.
		if s.Frontier[i].Price <= budget+0.01 {
			top = &s.Frontier[i]
		}
	}
	return top
}

// ceil rounds a count of connections up, forgiving floating-point dust (800 × 0.005).
func ceil(x float64) int { return int(math.Ceil(x - 1e-9)) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// num prints a figure with as many digits as it deserves.
func num(x float64) string {
	switch ax := math.Abs(x); {
	case ax == 0:
		return "0"
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return trimZeros(fmt.Sprintf("%.1f", x))
	case ax >= 0.1:
		return trimZeros(fmt.Sprintf("%.2f", x))
	default:
		return trimZeros(fmt.Sprintf("%.3g", x))
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// dur prints seconds as a duration in the unit that reads best.
func dur(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s >= 1:
		return num(s) + " s"
	case s >= 1e-3:
		return num(s*1e3) + " ms"
	default:
		return num(s*1e6) + " µs"
	}
}

func pct(x float64) string {
	if x >= noCapacity {
		return "∞%"
	}
	return fmt.Sprintf("%.0f%%", x*100)
}

func money(x float64) string {
	if x >= 1000 {
		return fmt.Sprintf("$%s", thousands(x))
	}
	return fmt.Sprintf("$%.2f", x)
}

func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mibText(m float64) string {
	if m >= 1024 {
		return num(m/1024) + " GiB"
	}
	return num(m) + " MiB"
}
