package columns

import (
	"math"
	"strings"
	"testing"
)

func fixed(name string, length, align int, notNull bool) Column {
	return Column{Name: name, Len: length, Align: align, NotNull: notNull, Storage: "p"}
}

func text(name string, width float64, nullFrac float64) Column {
	return Column{Name: name, Len: -1, Align: 4, Storage: "x", AvgWidth: width, NullFrac: nullFrac, HasStats: true}
}

// TestEstimateRowExact checks the model on layouts worked out by hand from PostgreSQL's heap
// tuple format.
func TestEstimateRowExact(t *testing.T) {
	t.Parallel()
	boolCol := func(n string) Column { return fixed(n, 1, 1, true) }
	int8Col := func(n string) Column { return fixed(n, 8, 8, true) }
	cases := []struct {
		name                string
		cols                []Column
		padding, tuple, per float64
	}{
		// bool, 7 bytes of padding, int8: 24 + 16; 4 + 40 = 44 bytes an item, 185 rows a page.
		{"bool int8", []Column{boolCol("a"), int8Col("b")}, 7, 40, 8192.0 / 185},
		// int8 then bool: 24 + 9, padded to 40 on the page all the same.
		{"int8 bool", []Column{int8Col("b"), boolCol("a")}, 0, 33, 8192.0 / 185},
		// int2, 2 bytes, int4, 0, bool, 7, int8: 24 + 8 + 7 + 1 + 8.
		{"int2 int4 bool int8", []Column{fixed("s", 2, 2, true), fixed("i", 4, 4, true), boolCol("a"), int8Col("b")}, 9, 48, 8192.0 / 157},
		// Nine columns and one always NULL: the null bitmap takes 2 bytes, the header 32.
		{"null bitmap", append([]Column{{Name: "n", Len: 4, Align: 4, NullFrac: 1, HasStats: true}},
			boolCol("1"), boolCol("2"), boolCol("3"), boolCol("4"), boolCol("5"), boolCol("6"), boolCol("7"), boolCol("8")), 0, 40, 8192.0 / 185},
		// A short text (1-byte header) needs no alignment; pg_stats' avg_width of 9 is 9.5 bytes
		// on average (ANALYZE truncates it).
		{"bool text", []Column{boolCol("a"), {Name: "t", Len: -1, Align: 4, Storage: "x", AvgWidth: 9, HasStats: true, NotNull: true}}, 0, 34.5, 0},
		// A long text has a 4-byte header, aligned to 4 bytes.
		{"bool long text", []Column{boolCol("a"), {Name: "t", Len: -1, Align: 4, Storage: "x", AvgWidth: 200, HasStats: true, NotNull: true}}, 3, 228.5, 0},
	}
	for _, c := range cases {
		e := EstimateRow(c.cols, Page{})
		if e.PaddingBytes != c.padding || e.TupleBytes != c.tuple || (c.per > 0 && math.Abs(e.HeapBytesPerRow-c.per) > 1e-9) {
			t.Errorf("%s: padding %v, tuple %v, heap/row %v; want %v, %v, %v", c.name, e.PaddingBytes, e.TupleBytes, e.HeapBytesPerRow, c.padding, c.tuple, c.per)
		}
	}
}

// TestEstimateRowNulls checks the expected padding with NULLs: a nullable bool in front of an
// int8 costs 7 bytes in the rows where it is not NULL.
func TestEstimateRowNulls(t *testing.T) {
	t.Parallel()
	cols := []Column{{Name: "a", Len: 1, Align: 1, NullFrac: 0.25, HasStats: true}, fixed("b", 8, 8, true)}
	e := EstimateRow(cols, Page{})
	if math.Abs(e.PaddingBytes-0.75*7) > 1e-9 || math.Abs(e.NullBitmapRows-0.25) > 1e-9 || math.Abs(e.DataBytes-8.75) > 1e-9 {
		t.Errorf("padding %v, null bitmap rows %v, data %v; want 5.25, 0.25, 8.75", e.PaddingBytes, e.NullBitmapRows, e.DataBytes)
	}
}

// TestProposeOrder: by alignment, NOT NULL first within it, longer first, variable-length last
// (4-byte-header ones first), dropped columns gone; and no padding, whatever is NULL.
func TestProposeOrder(t *testing.T) {
	t.Parallel()
	cols := []Column{
		fixed("flag", 1, 1, true), text("note", 40, 0.5), fixed("n8", 8, 8, false), fixed("i4", 4, 4, true),
		{Name: "gone", Dropped: true, Len: 8, Align: 8}, fixed("u", 16, 1, true), fixed("s2", 2, 2, true),
		fixed("t8", 8, 8, true), text("doc", 500, 0), fixed("n4", 4, 4, false), fixed("c", 1, 1, false),
	}
	var got []string
	order := ProposeOrder(cols)
	for _, c := range order {
		got = append(got, c.Name)
	}
	if want := "t8,n8,i4,n4,s2,u,flag,c,doc,note"; strings.Join(got, ",") != want {
		t.Errorf("order %s, want %s", strings.Join(got, ","), want)
	}
	for _, nf := range []float64{0, 0.3, 0.9} {
		for i := range order {
			if !order[i].NotNull {
				order[i].NullFrac, order[i].HasStats = nf, true
			}
		}
		// Only the long text may need alignment (3 bytes at most) after the 1-byte columns.
		if e := EstimateRow(order, Page{}); e.PaddingBytes > 3 {
			t.Errorf("null fraction %v: proposed order pads %.2f bytes", nf, e.PaddingBytes)
		}
	}
}

func TestFillfactorAndDefaults(t *testing.T) {
	t.Parallel()
	cols := []Column{fixed("a", 8, 8, true)}
	full := EstimateRow(cols, Page{})
	half := EstimateRow(cols, Page{BlockSize: 8192, Fillfactor: 50})
	// 24 + 8 = 32 + 4: 226 rows fit, 291 is the cap; at fillfactor 50, (8168 - 4096) / 36 = 113.
	if full.RowsPerPage != 226 || half.RowsPerPage != 113 {
		t.Errorf("rows per page %v and %v, want 226 and 113", full.RowsPerPage, half.RowsPerPage)
	}
	if w := (Column{Len: -1, TypeName: "varchar", TypMod: 14}).width(); w != 11 {
		t.Errorf("varchar(10) without statistics: width %v, want 11", w)
	}
	if w := (Column{Len: -1, TypeName: "text"}).width(); w != defaultVarlenaWidth {
		t.Errorf("text without statistics: width %v, want %d", w, defaultVarlenaWidth)
	}
}

// TestRowsPerPage: rows of one size fill floor(usable ÷ item) rows a page; rows that vary much
// leave about half a row free (renewal theory: usable ÷ item + (sd² − item²) ÷ (2·item²)).
func TestRowsPerPage(t *testing.T) {
	t.Parallel()
	if got := rowsPerPage(8168, 540, 0, 291); got != 15 {
		t.Errorf("fixed 540-byte rows: %v a page, want 15", got)
	}
	if got := rowsPerPage(8168, 540, 10, 291); math.Abs(got-15) > 0.05 {
		t.Errorf("540-byte rows varying by 10: %v a page, want about 15", got)
	}
	want := 8168.0/200 + (150.0*150-200*200)/(2*200*200)
	if got := rowsPerPage(8168, 200, 150, 291); math.Abs(got-want) > 0.2 {
		t.Errorf("200-byte rows varying by 150: %v a page, want about %.2f", got, want)
	}
	if got := rowsPerPage(8168, 10, 0, 291); got != 291 {
		t.Errorf("tiny rows: %v a page, want the cap of 291", got)
	}
}
