package columns

import (
	"math"
	"sort"
)

// Heap tuple and page layout constants of PostgreSQL (src/include/access/htup_details.h,
// storage/bufpage.h, varatt.h). They are the server's own; pgscale does not tune them.
const (
	// tupleHeaderBytes is offsetof(HeapTupleHeaderData, t_bits): the fixed part of every tuple.
	tupleHeaderBytes = 23
	// maxAlign is MAXIMUM_ALIGNOF on every 64-bit platform PostgreSQL supports.
	maxAlign = 8
	// pageHeaderBytes is SizeOfPageHeaderData; a heap page has no special space.
	pageHeaderBytes = 24
	// itemIDBytes is sizeof(ItemIdData): the line pointer every tuple has on its page.
	itemIDBytes = 4
	// shortVarlenaMax is VARATT_SHORT_MAX: a variable-length value whose stored size (header
	// included) is at most this many bytes gets a 1-byte header and no alignment.
	shortVarlenaMax = 127
	// defaultVarlenaWidth is PostgreSQL's own guess for a variable-length column with no
	// statistics and no length limit (get_typavgwidth in lsyscache.c).
	defaultVarlenaWidth = 32
	// defaultBlockSize is BLCKSZ in a default build; the server's own block_size is read when
	// there is a server.
	defaultBlockSize = 8192
)

// Column is one attribute of a table, as the model needs it and as the DDL needs it.
type Column struct {
	Num      int    `json:"attnum"`
	Name     string `json:"name"`
	Type     string `json:"type"` // format_type(atttypid, atttypmod)
	TypeName string `json:"-"`    // pg_type.typname
	TypMod   int    `json:"-"`
	// Len is attlen: the fixed width in bytes, -1 for variable length (varlena), -2 for cstring.
	Len int `json:"typlen"`
	// Align is attalign in bytes: 1 (c), 2 (s), 4 (i) or 8 (d).
	Align int `json:"typalign"`
	// Storage is attstorage: p (plain) values never get the short 1-byte header.
	Storage string `json:"storage"`
	NotNull bool   `json:"not_null"`
	Dropped bool   `json:"dropped,omitempty"`
	// NullFrac and AvgWidth come from pg_stats; HasStats says whether they did. AvgWidth is the
	// average stored width of non-null values, header included, as ANALYZE measured it (a value
	// moved to TOAST counts as its 18-byte pointer).
	NullFrac float64 `json:"null_frac"`
	AvgWidth float64 `json:"avg_width"`
	HasStats bool    `json:"has_stats"`

	Default   string `json:"default,omitempty"`   // pg_get_expr of the default
	Generated string `json:"generated,omitempty"` // "s" for a stored generated column
	Identity  string `json:"identity,omitempty"`  // "a" (always) or "d" (by default)
	Collation string `json:"collation,omitempty"` // a non-default collation, quoted
	// Sequence is the sequence the column owns (a serial's OWNED BY, or an identity's own), as
	// a qualified, quoted name; "" when it owns none.
	Sequence string `json:"sequence,omitempty"`
	TypType  string `json:"-"` // pg_type.typtype (e: enum, d: domain …)
	TypOID   uint32 `json:"-"`
}

// nullFrac is the probability that the column is NULL in a row: 0 for NOT NULL, 1 for a dropped
// column (rows written since the drop store it as NULL).
func (c Column) nullFrac() float64 {
	switch {
	case c.Dropped:
		return 1
	case c.NotNull:
		return 0
	}
	return math.Min(math.Max(c.NullFrac, 0), 1)
}

// width is the expected stored width of a non-null value. ANALYZE truncates the average width to
// whole bytes (analyze.c assigns a double to the int32 stawidth), so half a byte is added back to
// a variable width.
func (c Column) width() float64 {
	if c.Len > 0 {
		return float64(c.Len)
	}
	if c.HasStats && c.AvgWidth > 0 {
		return c.AvgWidth + 0.5
	}
	return guessWidth(c)
}

// guessWidth follows get_typavgwidth: a length limit gives the width (or half of a long one),
// anything else 32 bytes; one header byte is added since such values are stored short.
func guessWidth(c Column) float64 {
	if c.Len == -1 && c.TypMod > 4 && (c.TypeName == "bpchar" || c.TypeName == "varchar") {
		n := c.TypMod - 4
		switch {
		case c.TypeName == "bpchar" || n <= 32:
			return float64(n + 1)
		case n < 1000:
			return float64(32+(n-32)/2) + 1
		default:
			return float64(32+(1000-32)/2) + 1
		}
	}
	return defaultVarlenaWidth
}

// packed says whether non-null values are stored with a 1-byte header and so need no
// alignment: variable-length, storage other than plain, and short enough on average.
func (c Column) packed() bool {
	return c.Len == -1 && c.Storage != "p" && c.width() <= shortVarlenaMax
}

// Estimate is the model's expected layout of one row, in bytes.
type Estimate struct {
	// HeaderBytes is the tuple header with the null bitmap, which a row has only when one of its
	// columns is NULL (NullBitmapRows of the rows, expected); it is padded to 8 bytes.
	HeaderBytes    float64 `json:"header_bytes"`
	NullBitmapRows float64 `json:"null_bitmap_rows"`
	DataBytes      float64 `json:"data_bytes"`
	// PaddingBytes is alignment padding between columns: what column order changes.
	PaddingBytes float64 `json:"padding_bytes"`
	// TupleBytes is header + data + padding: pg_column_size of the whole row.
	TupleBytes float64 `json:"tuple_bytes"`
	// TailBytes pads the tuple to 8 bytes on the page.
	TailBytes float64 `json:"tail_bytes"`
	// RowsPerPage and HeapBytesPerRow add the line pointer and the page's fill (fillfactor, the
	// space left at the end of a page): pg_relation_size ÷ rows.
	RowsPerPage     float64 `json:"rows_per_page"`
	HeapBytesPerRow float64 `json:"heap_bytes_per_row"`
	// ItemStdDev is the model's standard deviation of a row's size on the page.
	ItemStdDev float64 `json:"item_stddev_bytes"`
	// PadBefore is the expected padding in front of each column, in storage order.
	PadBefore []float64 `json:"-"`
}

// varlenaSpread is the assumed standard deviation of a variable-length column's width, as a share
// of its average: pg_stats gives the average only. A third makes the values range over about
// twice their average, as names, notes and small documents do; it matters only for how tightly
// rows pack into a page.
const varlenaSpread = 1.0 / 3

// Page describes the pages a table's rows go to.
type Page struct {
	BlockSize  int // block_size (8192 by default)
	Fillfactor int // 10..100; 100 by default
}

func (p Page) normal() Page {
	if p.BlockSize <= 0 {
		p.BlockSize = defaultBlockSize
	}
	if p.Fillfactor <= 0 || p.Fillfactor > 100 {
		p.Fillfactor = 100
	}
	return p
}

// maxTuplesPerPage is MaxHeapTuplesPerPage.
func (p Page) maxTuplesPerPage() int {
	return (p.BlockSize - pageHeaderBytes) / (alignUp(tupleHeaderBytes, maxAlign) + itemIDBytes)
}

// usable is the space for line pointers and tuples that inserts fill: a page takes another tuple
// while its free space stays above the fillfactor's reserve (RelationGetBufferForTuple).
func (p Page) usable() int {
	reserve := p.BlockSize * (100 - p.Fillfactor) / 100
	return p.BlockSize - pageHeaderBytes - reserve
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// EstimateRow works out the expected layout of a row whose columns are stored in the order of
// cols (dropped columns included: they count in the null bitmap and are NULL in new rows).
//
// Columns are taken as independent: each is NULL with its null_frac, and a non-null value is as
// wide as its avg_width. Alignment depends only on the offset modulo 8, so the model carries the
// probability of each of the 8 residues from column to column, which makes it exact for
// fixed-width columns whatever their NULLs. A variable-length value is assumed to vary in length,
// so the offset after it is taken as evenly spread over the 8 residues.
func EstimateRow(cols []Column, page Page) Estimate {
	page = page.normal()
	var (
		est      = Estimate{PadBefore: make([]float64, len(cols))}
		residue  = [maxAlign]float64{1}
		noNulls  = 1.0
		variance float64 // of the row's size: columns taken as independent
	)
	for i, c := range cols {
		nf := c.nullFrac()
		noNulls *= 1 - nf
		present := 1 - nf
		if present == 0 {
			continue
		}
		w := c.width()
		var next [maxAlign]float64
		for r, pr := range residue {
			if pr == 0 {
				continue
			}
			next[r] += pr * nf
			m := pr * present
			start := r
			if !c.packed() && c.Len != -2 {
				start = alignUp(r, c.Align)
			}
			pad := float64(start - r)
			est.PaddingBytes += m * pad
			est.PadBefore[i] += m * pad
			if c.Len > 0 {
				next[(start+c.Len)%maxAlign] += m
			} else {
				for k := range next {
					next[k] += m / maxAlign
				}
			}
		}
		est.DataBytes += present * w
		// A column adds its width (and the padding in front of it) when present: a Bernoulli
		// part, and the spread of a variable width.
		size := w + est.PadBefore[i]/present
		variance += present * (1 - present) * size * size
		if c.Len <= 0 {
			variance += present * (w * varlenaSpread) * (w * varlenaSpread)
		}
		residue = next
	}
	for r, pr := range residue {
		est.TailBytes += pr * float64((maxAlign-r)%maxAlign)
	}
	bitmap := (len(cols) + 7) / 8
	withNulls := float64(alignUp(tupleHeaderBytes+bitmap, maxAlign))
	plain := float64(alignUp(tupleHeaderBytes, maxAlign))
	est.NullBitmapRows = 1 - noNulls
	est.HeaderBytes = plain + est.NullBitmapRows*(withNulls-plain)
	est.TupleBytes = est.HeaderBytes + est.DataBytes + est.PaddingBytes
	variance += est.NullBitmapRows * (1 - est.NullBitmapRows) * (withNulls - plain) * (withNulls - plain)
	est.ItemStdDev = math.Sqrt(variance)

	item := itemIDBytes + est.TupleBytes + est.TailBytes
	est.RowsPerPage = rowsPerPage(float64(page.usable()), item, est.ItemStdDev, page.maxTuplesPerPage())
	est.HeapBytesPerRow = float64(page.BlockSize) / est.RowsPerPage
	return est
}

// rowsPerPage is the expected number of rows an insert puts on a page before the next one does
// not fit: the sum over n of the chance that n rows fit, the size of n rows taken as normal
// (mean n·item, deviation sd·√n). Rows of one size fill floor(usable ÷ item) rows; rows that
// vary much leave about half a row free at the end of a page.
func rowsPerPage(usable, item, sd float64, maxRows int) float64 {
	var rows float64
	for n := 1; n <= maxRows; n++ {
		mean := float64(n) * item
		var fit float64
		switch {
		case sd < 1e-9:
			if mean <= usable {
				fit = 1
			}
		default:
			fit = 0.5 * math.Erfc((mean-usable)/(sd*math.Sqrt(float64(n))*math.Sqrt2))
		}
		if fit < 1e-9 {
			break
		}
		rows += fit
	}
	return math.Max(1, rows)
}

// ProposeOrder returns the live columns of cols in an order with no alignment padding between
// fixed-width columns, whichever of them are NULL: fixed-width columns first by alignment (8, 4,
// 2, then 1 byte), NOT NULL before nullable within each, longer before shorter; then the
// variable-length columns, those likely stored with a 4-byte header (and so aligned) first, NOT
// NULL before nullable. Ties keep the table's order.
//
// Since every fixed width is a multiple of its own alignment, a run of columns in falling
// alignment leaves each one aligned even when some are NULL; NOT NULL columns first also let
// PostgreSQL cache the offsets of more leading columns.
func ProposeOrder(cols []Column) []Column {
	var live []Column
	for _, c := range cols {
		if !c.Dropped {
			live = append(live, c)
		}
	}
	rank := func(c Column) (group, align, null, length int) {
		group = 0
		if c.Len <= 0 {
			group = 1
		}
		if c.NotNull {
			null = 0
		} else {
			null = 1
		}
		if group == 1 {
			if !c.packed() && c.Len == -1 {
				align = -c.Align
			}
			return group, align, null, 0
		}
		return group, -c.Align, null, -c.Len
	}
	sort.SliceStable(live, func(i, j int) bool {
		gi, ai, ni, li := rank(live[i])
		gj, aj, nj, lj := rank(live[j])
		switch {
		case gi != gj:
			return gi < gj
		case ai != aj:
			return ai < aj
		case ni != nj:
			return ni < nj
		case li != lj:
			return li < lj
		}
		return live[i].Num < live[j].Num
	})
	return live
}
