package columnpadding

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// col is one column of a layout: its definition and how its values are made.
type col struct {
	name    string
	def     string // the SQL type (and anything after it) for CREATE TABLE, NOT NULL excluded
	notNull bool
	gen     gen
	// nullFrac is the chance a row has NULL here (nullable columns only).
	nullFrac float64
	// omit leaves the column out of COPY: the server fills it (a stored generated column, or a
	// default the generator cannot stand in for).
	omit bool
	// typ is the type's name (pg_type.typname), which picks the aggregate column.
	typ string
}

// layout is a table's columns in the careless order (the one a team ends up with) and its
// primary key.
type layout struct {
	cols []col
	pk   []string
	// source describes where the columns came from, for the log.
	source string
}

// A feature is a handful of columns a team adds at once: a flag and when it was set, a counter
// and an amount, a reference and its kind… Tables grow this way, so their types interleave.
type feature []col

func c(name, typ string, notNull bool, nullFrac float64, g gen) col {
	return col{name: name, def: typ, notNull: notNull, nullFrac: nullFrac, gen: g, typ: typName(typ)}
}

// typName maps a type as written to pg_type's name.
func typName(t string) string {
	switch t {
	case "bool":
		return "bool"
	case "numeric(12,2)":
		return "numeric"
	}
	return t
}

// Null fractions of the generated nullable columns: a timestamp set when a flag is (40% unset),
// an optional reference (30% unset), a due date on half the rows, an external id most rows have
// (20% unset), and a free-text note most rows lack (70% unset). They make most rows carry the
// null bitmap, as rows of real wide tables do.
func features(p string) []feature {
	return []feature{
		{c(p+"_enabled", "bool", true, 0, genBool), c(p+"_enabled_at", "timestamptz", false, 0.4, genTimestamptz)},
		{c(p+"_count", "int4", true, 0, genInt4), c(p+"_amount", "numeric(12,2)", true, 0, genNumeric(12, 2))},
		{c(p+"_flag", "bool", true, 0, genBool), c(p+"_ref_id", "int8", false, 0.3, genInt8), c(p+"_kind", "int2", true, 0, genInt2)},
		{c(p+"_status", "text", true, 0, genStatus), c(p+"_updated_at", "timestamptz", true, 0, genTimestamptz)},
		{c(p+"_score", "float8", true, 0, genFloat8), c(p+"_rank", "int2", true, 0, genInt2), c(p+"_verified", "bool", true, 0, genBool)},
		{c(p+"_due_on", "date", false, 0.5, genDate), c(p+"_priority", "int2", true, 0, genInt2), c(p+"_total", "int8", true, 0, genInt8)},
		{c(p+"_external_id", "uuid", false, 0.2, genUUID), c(p+"_note", "text", false, 0.7, genText(10, 80))},
		{c(p+"_meta", "jsonb", true, 0, genJSON), c(p+"_active", "bool", true, 0, genBool), c(p+"_version", "int4", true, 0, genInt4)},
	}
}

// featureWeights say how often each kind of feature is picked after every kind has been used
// once, in the order of features: flags with their timestamp and references to other tables are
// what wide OLTP tables gather most, free text and documents least. They are a judgement, not a
// measurement; --set ddl tests a real table instead.
var featureWeights = []int{3, 2, 3, 2, 1, 2, 1, 1}

// prefixes name the features, in the order they are used.
var prefixes = []string{
	"billing", "shipping", "review", "promo", "audit", "sync", "export", "loyalty", "fraud", "support",
	"invoice", "refund", "tax", "warehouse", "campaign", "referral", "survey", "newsletter", "trial",
	"partner", "import", "webhook", "approval", "risk", "kyc", "payout", "subscription", "gift",
	"delivery", "archive",
}

// generatedLayout builds the default wide table: the columns a first version has (id,
// created_at, tenant, a deleted flag), then features added over time: every kind once in a
// seeded order, then seeded picks until there are n columns.
func generatedLayout(n int, seed uint64) layout {
	r := rand.New(rand.NewPCG(seed, 0x636f6c706164)) // "colpad"
	l := layout{
		cols: []col{
			c("id", "int8", true, 0, genSerial),
			c("created_at", "timestamptz", true, 0, genTimestamptz),
			c("tenant_id", "int4", true, 0, genInt4),
			c("is_deleted", "bool", true, 0, genBool),
		},
		pk:     []string{"id"},
		source: fmt.Sprintf("generated: %d columns, seed %d", n, seed),
	}
	kinds := len(features("x"))
	order := r.Perm(kinds)
	total := 0
	for _, w := range featureWeights {
		total += w
	}
	for i := 0; len(l.cols) < n; i++ {
		var kind int
		if i < len(order) {
			kind = order[i]
		} else {
			pick := r.IntN(total)
			for kind = 0; pick >= featureWeights[kind]; kind++ {
				pick -= featureWeights[kind]
			}
		}
		p := prefixes[i%len(prefixes)]
		if i >= len(prefixes) {
			p = fmt.Sprintf("%s%d", p, i/len(prefixes)+1)
		}
		for _, cl := range features(p)[kind] {
			if len(l.cols) < n {
				l.cols = append(l.cols, cl)
			}
		}
	}
	return l
}

// aggColumn picks the column the aggregate scan sums: the last fixed-width numeric column of
// the careless order, which deforming a row reaches only after every column before it, and which
// the aligned order moves forward (numeric, being variable-length, sits at the end of both, so it
// is taken only when there is no other). "" when the table has none: the scan then counts its last
// column.
func (l layout) aggColumn() string {
	for _, types := range [][]string{{"int2", "int4", "int8", "float4", "float8"}, {"numeric"}} {
		for i := len(l.cols) - 1; i >= 0; i-- {
			if slices.Contains(types, l.cols[i].typ) && !l.cols[i].omit {
				return l.cols[i].name
			}
		}
	}
	return ""
}
