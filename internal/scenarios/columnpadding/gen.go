package columnpadding

import (
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/columns"
)

// gen appends one value in COPY's text format (escaped) for row, drawing from r.
type gen func(dst []byte, r *rand.Rand, row int64) []byte

// Value ranges of the generated data: ids count up; timestamps spread over five years from 2020;
// amounts up to 100,000.00. They only need to look like real data to the storage: the widths of
// the values, not their meaning, decide the layout.
const (
	baseUnix     = 1577836800 // 2020-01-01 00:00:00 UTC
	spreadSecs   = 5 * 365 * 24 * 3600
	baseEpochDay = 18262 // 2020-01-01 in days since 1970-01-01
)

var statuses = []string{"active", "pending", "archived", "on_hold", "deleted", "review"}

var jsonSources = []string{"web", "ios", "android", "api", "import"}

func genSerial(dst []byte, _ *rand.Rand, row int64) []byte { return strconv.AppendInt(dst, row, 10) }

func genBool(dst []byte, r *rand.Rand, _ int64) []byte {
	if r.IntN(2) == 0 {
		return append(dst, 'f')
	}
	return append(dst, 't')
}

func genInt2(dst []byte, r *rand.Rand, _ int64) []byte {
	return strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
}

func genInt4(dst []byte, r *rand.Rand, _ int64) []byte {
	return strconv.AppendInt(dst, int64(r.IntN(1_000_000)), 10)
}

func genInt8(dst []byte, r *rand.Rand, _ int64) []byte {
	return strconv.AppendInt(dst, r.Int64N(1<<40), 10)
}

// genFloat8 makes values such as 1234.5678, written as integers: formatting a random float64
// in its shortest form costs the client more than the server spends storing it.
func genFloat8(dst []byte, r *rand.Rand, _ int64) []byte {
	dst = strconv.AppendInt(dst, int64(r.IntN(10000)), 10)
	dst = append(dst, '.')
	frac := r.IntN(10000)
	return append(dst, byte('0'+frac/1000), byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// genNumeric makes numeric(precision, scale) values: up to 5 integer digits (fewer if the
// precision says so) and the scale's digits.
func genNumeric(precision, scale int) gen {
	scale = min(max(scale, 0), 6)
	intDigits := min(max(precision-scale, 1), 5)
	limit := int64(1)
	for range intDigits {
		limit *= 10
	}
	fracLimit := int64(1)
	for range scale {
		fracLimit *= 10
	}
	return func(dst []byte, r *rand.Rand, _ int64) []byte {
		dst = strconv.AppendInt(dst, r.Int64N(limit), 10)
		if scale == 0 {
			return dst
		}
		dst = append(dst, '.')
		var tmp [8]byte
		frac := strconv.AppendInt(tmp[:0], r.Int64N(fracLimit), 10)
		for range scale - len(frac) {
			dst = append(dst, '0')
		}
		return append(dst, frac...)
	}
}

func genStatus(dst []byte, r *rand.Rand, _ int64) []byte {
	return append(dst, statuses[r.IntN(len(statuses))]...)
}

// genText makes lowercase text of minLen to maxLen characters.
func genText(minLen, maxLen int) gen {
	return func(dst []byte, r *rand.Rand, _ int64) []byte {
		n := minLen + r.IntN(maxLen-minLen+1)
		for n > 0 {
			bits := r.Uint64()
			for k := 0; k < 8 && n > 0; k++ {
				b := byte(bits >> (8 * k))
				if b%7 == 0 {
					dst = append(dst, ' ')
				} else {
					dst = append(dst, 'a'+b%26)
				}
				n--
			}
		}
		return dst
	}
}

// genKey makes unique text: a primary key of a text type.
func genKey(dst []byte, _ *rand.Rand, row int64) []byte {
	return strconv.AppendInt(append(dst, 'k'), row, 10)
}

func genTimestamptz(dst []byte, r *rand.Rand, _ int64) []byte {
	return appendTimestamp(dst, baseUnix+r.Int64N(spreadSecs), true)
}

func genTimestamp(dst []byte, r *rand.Rand, _ int64) []byte {
	return appendTimestamp(dst, baseUnix+r.Int64N(spreadSecs), false)
}

// appendTimestamp writes "2006-01-02 15:04:05" (with "+00" for timestamptz) without the cost
// of time.Format.
func appendTimestamp(dst []byte, unix int64, zone bool) []byte {
	t := time.Unix(unix, 0).UTC()
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	dst = appendDate(dst, y, int(m), d)
	dst = append(dst, ' ')
	dst = append2(dst, hh)
	dst = append(dst, ':')
	dst = append2(dst, mm)
	dst = append(dst, ':')
	dst = append2(dst, ss)
	if zone {
		dst = append(dst, "+00"...)
	}
	return dst
}

func appendDate(dst []byte, y, m, d int) []byte {
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }

func genDate(dst []byte, r *rand.Rand, _ int64) []byte {
	y, m, d := time.Unix((baseEpochDay+r.Int64N(5*365))*86400, 0).UTC().Date()
	return appendDate(dst, y, int(m), d)
}

func genTime(dst []byte, r *rand.Rand, _ int64) []byte {
	s := r.IntN(86400)
	dst = append2(dst, s/3600)
	dst = append(dst, ':')
	dst = append2(dst, s/60%60)
	dst = append(dst, ':')
	return append2(dst, s%60)
}

func genInterval(dst []byte, r *rand.Rand, _ int64) []byte {
	return append(strconv.AppendInt(dst, int64(r.IntN(100000)), 10), " seconds"...)
}

func genUUID(dst []byte, r *rand.Rand, _ int64) []byte {
	var b [16]byte
	lo, hi := r.Uint64(), r.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return append(dst, s[:]...)
}

// genTag makes the tags of genJSON.
var genTag = genText(3, 8)

// genJSON makes small documents such as an application keeps beside a row: a version, a source
// and zero to six tags; stored as jsonb they take about 40 to 130 bytes.
func genJSON(dst []byte, r *rand.Rand, _ int64) []byte {
	dst = append(dst, `{"v": `...)
	dst = strconv.AppendInt(dst, int64(r.IntN(100)), 10)
	dst = append(dst, `, "src": "`...)
	dst = append(dst, jsonSources[r.IntN(len(jsonSources))]...)
	dst = append(dst, `", "tags": [`...)
	for i := range r.IntN(7) {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, '"')
		dst = genTag(dst, r, 0)
		dst = append(dst, '"')
	}
	return append(dst, "]}"...)
}

func genBytea(dst []byte, r *rand.Rand, _ int64) []byte {
	dst = append(dst, `\\x`...) // a backslash escaped for COPY
	for range 8 + r.IntN(25) {
		dst = append(dst, "0123456789abcdef"[r.IntN(16)], "0123456789abcdef"[r.IntN(16)])
	}
	return dst
}

func genInet(dst []byte, r *rand.Rand, _ int64) []byte {
	dst = append(dst, "10."...)
	dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(r.IntN(256)), 10)
	dst = append(dst, '.')
	return strconv.AppendInt(dst, int64(r.IntN(256)), 10)
}

// genChoice picks one of fixed labels (an enum's).
func genChoice(labels []string) gen {
	escaped := make([]string, len(labels))
	for i, l := range labels {
		escaped[i] = copyEscape(l)
	}
	return func(dst []byte, r *rand.Rand, _ int64) []byte {
		return append(dst, escaped[r.IntN(len(escaped))]...)
	}
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func copyEscape(s string) string { return copyEscaper.Replace(s) }

// ddlNullFrac is the share of NULLs in the nullable columns of a table given by --set ddl: a
// user's table says nothing of its data, and with 20% NULLs in each nullable column most rows of
// a wide table carry the null bitmap, as real ones do.
const ddlNullFrac = 0.2

// colFromCatalog makes a layout column of a column of the user's table, with a generator for its
// type. A type pgscale cannot make values for is filled with NULL when the column is nullable, or
// by the server when it has a default; otherwise the error names it.
func colFromCatalog(c columns.Column, pk bool, enums map[uint32][]string) (col, error) {
	ident := pgx.Identifier{c.Name}.Sanitize()
	def := strings.TrimPrefix(columns.ColumnDef(withoutNotNull(c)), ident+" ")
	out := col{name: c.Name, def: def, notNull: c.NotNull, typ: c.TypeName}
	if !c.NotNull {
		out.nullFrac = ddlNullFrac
	}
	if c.Generated == "s" {
		out.omit = true
		return out, nil
	}
	g := genForType(c, pk, enums)
	switch {
	case g != nil:
		out.gen = g
	case c.Default != "" || c.Identity != "":
		out.omit = true
	case !c.NotNull:
		out.nullFrac = 1
		out.gen = genSerial // never called
	default:
		return col{}, fmt.Errorf("column %s of type %s: pgscale cannot make values of this type; give it a default or make it nullable", c.Name, c.Type)
	}
	return out, nil
}

func withoutNotNull(c columns.Column) columns.Column {
	c.NotNull = false
	return c
}

// genForType picks a generator by type; key columns get unique values.
func genForType(c columns.Column, pk bool, enums map[uint32][]string) gen {
	if labels, ok := enums[c.TypOID]; ok && len(labels) > 0 {
		return genChoice(labels)
	}
	n := c.TypMod - 4 // a length or precision limit, when positive
	switch c.TypeName {
	case "int2", "int4", "int8":
		if pk || c.Identity != "" || strings.HasPrefix(c.Default, "nextval(") {
			return genSerial
		}
		return map[string]gen{"int2": genInt2, "int4": genInt4, "int8": genInt8}[c.TypeName]
	case "bool":
		return genBool
	case "float4", "float8":
		return genFloat8
	case "numeric":
		if c.TypMod > 4 {
			return genNumeric(n>>16&0xffff, n&0xffff)
		}
		return genNumeric(12, 2)
	case "text", "varchar", "bpchar", "citext":
		if pk {
			return genKey
		}
		hi := 40
		if n > 0 {
			hi = min(hi, n)
		}
		if c.TypeName == "bpchar" {
			return genText(min(max(n, 1), 16), min(max(n, 1), 16))
		}
		return genText(min(5, hi), hi)
	case "timestamptz":
		return genTimestamptz
	case "timestamp":
		return genTimestamp
	case "date":
		return genDate
	case "time":
		return genTime
	case "interval":
		return genInterval
	case "uuid":
		return genUUID
	case "json", "jsonb":
		return genJSON
	case "bytea":
		return genBytea
	case "inet", "cidr":
		return genInet
	}
	return nil
}

// rowSource is an io.Reader of COPY text rows first..last of a layout, in the column order of
// one table. Row i draws its values from a generator seeded by (seed, i), in the layout's own
// order, so that both tables get the same rows whatever their column order.
type rowSource struct {
	cols  []col
	order []int // indexes into cols, in the table's order (omitted columns left out)
	seed  uint64
	next  int64
	last  int64
	pcg   *rand.PCG
	r     *rand.Rand
	vals  [][]byte
	nulls []bool
	buf   []byte
	pos   int
}

// rowChunk is how many bytes of rows are generated at a time: as much as pgx sends in one
// CopyData message (64 kB).
const rowChunk = 64 << 10

func newRowSource(cols []col, order []int, seed uint64, first, last int64) *rowSource {
	pcg := rand.NewPCG(seed, 0)
	return &rowSource{cols: cols, order: order, seed: seed, next: first, last: last, pcg: pcg, r: rand.New(pcg),
		vals: make([][]byte, len(cols)), nulls: make([]bool, len(cols)), buf: make([]byte, 0, rowChunk+4096)}
}

func (s *rowSource) Read(p []byte) (int, error) {
	for s.pos >= len(s.buf) {
		if s.next > s.last {
			return 0, io.EOF
		}
		s.buf, s.pos = s.buf[:0], 0
		for len(s.buf) < rowChunk && s.next <= s.last {
			s.appendRow(s.next)
			s.next++
		}
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}

func (s *rowSource) appendRow(row int64) {
	s.pcg.Seed(s.seed, uint64(row))
	for i, cl := range s.cols {
		s.nulls[i] = false
		if cl.omit {
			continue
		}
		if cl.nullFrac > 0 && s.r.Float64() < cl.nullFrac {
			s.nulls[i] = true
			continue
		}
		s.vals[i] = cl.gen(s.vals[i][:0], s.r, row)
	}
	for k, i := range s.order {
		if k > 0 {
			s.buf = append(s.buf, '\t')
		}
		if s.nulls[i] {
			s.buf = append(s.buf, `\N`...)
		} else {
			s.buf = append(s.buf, s.vals[i]...)
		}
	}
	s.buf = append(s.buf, '\n')
}
