package columnpadding

import (
	"io"
	"testing"
)

// BenchmarkRowSource measures generating the default table's COPY rows, so that insert rows/s
// can be told apart from the client's own cost.
func BenchmarkRowSource(b *testing.B) {
	l := generatedLayout(64, 1)
	order := allIndexes(len(l.cols))
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		src := newRowSource(l.cols, order, 1, 1, 1000)
		m, err := io.Copy(io.Discard, src)
		if err != nil {
			b.Fatal(err)
		}
		n += m
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/row")
}
