package sizing

import (
	"fmt"
	"math"
)

// The providers' documented rules for the default max_connections of an instance class. A catalog
// entry names no max_connections of its own when its provider has a rule; the rule computes it
// from the entry's memory. Sources and dates are in the catalog files next to each provider.

// Rule names, as a catalog file's max_connections_rule.
const (
	RuleRDS      = "rds"      // LEAST({DBInstanceClassMemory/9531392}, 5000)
	RuleCloudSQL = "cloudsql" // Cloud SQL's memory → max_connections table
	RuleAzure    = "azure"    // Azure flexible server's memory → max_connections table
	RuleExplicit = "explicit" // every entry gives max_connections (self-hosted: what you configure)
)

var ruleNames = []string{RuleRDS, RuleCloudSQL, RuleAzure, RuleExplicit}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// rdsBytesPerConnection and rdsConnectionCap are the constants of RDS's default parameter group
// for PostgreSQL: max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000).
const (
	rdsBytesPerConnection = 9531392
	rdsConnectionCap      = 5000
)

// DBInstanceClassMemory is less than a class's nominal memory: RDS keeps some for the operating
// system and its own processes, and does not publish how much. The reserve is estimated as
// rdsReserveBaseMiB + rdsReservePerDoublingMiB × log2(nominal GiB), a least-squares fit to the
// four max_connections values users observed (db.t2.small 198, db.t2.medium 413,
// db.t2.large 856, db.r4.large 1660; shared/reference/cloud-max-connections.md). The fit gives
// back 198, 413, 854 and 1661: within 3 connections of each. The implied reserve grows from
// about 240 MiB at 2 GiB to about 520 MiB at 15 GiB. From 48 GiB up the 5000 cap applies, so
// the estimate matters only for the small and middle classes.
const (
	rdsReserveBaseMiB        = 148.0
	rdsReservePerDoublingMiB = 92.0
	// minReserveMiB keeps the estimate positive for classes below 1 GiB (it gives ~80 MiB at
	// 0.6 GiB); 64 MiB is less than any Linux with PostgreSQL runs in.
	minReserveMiB = 64.0
)

// SystemReserveMiB is the memory an instance of memGiB keeps for the operating system and the
// provider's agents: RDS's reserve (see rdsReserveBaseMiB). The memory model uses it for every
// provider, since it is the only reserve with measurements behind it.
func SystemReserveMiB(memGiB float64) float64 {
	if memGiB <= 0 {
		return 0
	}
	r := rdsReserveBaseMiB + rdsReservePerDoublingMiB*math.Log2(memGiB)
	return math.Max(r, minReserveMiB)
}

// RDSClassMemory estimates DBInstanceClassMemory, in bytes, of a class with memGiB nominal memory.
func RDSClassMemory(memGiB float64) float64 {
	return memGiB*gib - SystemReserveMiB(memGiB)*mib
}

// RDSMaxConnections is RDS's default max_connections for a class of memGiB nominal memory.
func RDSMaxConnections(memGiB float64) int {
	n := int(math.Floor(RDSClassMemory(memGiB) / rdsBytesPerConnection))
	return max(min(n, rdsConnectionCap), 0)
}

// cloudSQLBand is one row of Cloud SQL's table: instances with at least MinGiB of memory (and
// less than the next row's) get Max connections by default.
type cloudSQLBand struct {
	MinGiB float64
	Max    int
}

// cloudSQLTable is Cloud SQL for PostgreSQL's default max_connections by instance memory. Only
// the first row (0.6 GiB, db-f1-micro: 25) was verified first-hand; the others were seen
// second-hand (cloud-max-connections.md, collected 2026-11-23). Memory between the shared-core
// sizes and 3.75 GiB does not exist as a tier; it falls in the row below it.
var cloudSQLTable = []cloudSQLBand{
	{0, 25},     // 0.6 GiB, db-f1-micro
	{1.7, 50},   // 1.7 GiB, db-g1-small
	{3.75, 100}, // 3.75 to <6
	{6, 200},    // 6 to <7.5
	{7.5, 400},  // 7.5 to <15
	{15, 500},   // 15 to <30
	{30, 600},   // 30 to <60
	{60, 800},   // 60 to <120
	{120, 1000}, // 120 and up
}

// CloudSQLMaxConnections is Cloud SQL's default max_connections for an instance of memGiB.
func CloudSQLMaxConnections(memGiB float64) int {
	n := 0
	for _, b := range cloudSQLTable {
		if memGiB >= b.MinGiB {
			n = b.Max
		}
	}
	return n
}

// azureTable is Azure Database for PostgreSQL flexible server's max_connections by memory, the
// same for every series (B1ms 50; B2s 429; B2ms, D2 859; B4ms, D4, E2 1718; B8ms, D8, E4 3437;
// 48 GiB and up 5000). Sizes between the rows are not offered.
var azureTable = map[float64]int{2: 50, 4: 429, 8: 859, 16: 1718, 32: 3437}

// azureCapGiB is the smallest memory at which Azure's table gives its cap, 5000 (B12ms, 48 GiB;
// the documented D16, 64 GiB, and up).
const (
	azureCapGiB = 48
	azureCap    = 5000
)

// AzureMaxConnections is Azure flexible server's max_connections for an instance of memGiB.
func AzureMaxConnections(memGiB float64) (int, error) {
	if memGiB >= azureCapGiB {
		return azureCap, nil
	}
	if n, ok := azureTable[memGiB]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("no row for %g GiB in Azure's table (rows: 2, 4, 8, 16, 32, 48 GiB and up); give max_connections", memGiB)
}

// ruleMaxConnections applies rule to an instance of memGiB.
func ruleMaxConnections(rule string, memGiB float64) (int, error) {
	switch rule {
	case RuleRDS:
		return RDSMaxConnections(memGiB), nil
	case RuleCloudSQL:
		return CloudSQLMaxConnections(memGiB), nil
	case RuleAzure:
		return AzureMaxConnections(memGiB)
	default:
		return 0, fmt.Errorf("rule %q computes nothing; give max_connections", rule)
	}
}
