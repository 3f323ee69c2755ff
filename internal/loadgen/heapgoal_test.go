package loadgen

import "testing"

// TestGCPercentFor: a small run keeps the process's GC percent; a large one gets HeapHeadroom of
// headroom, never less than minGCPercent; GOGC=off and settings below the floor stay.
func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		scanned uint64
		own     int
		want    int
	}{
		{0, 100, 100},
		{4 << 20, 100, 100},            // 4 MB scanned: GOGC's 4 MB of headroom is within the bound
		{8 << 20, 100, 100},            // the bound exactly
		{16 << 20, 100, 50},            // 8 MB of headroom over 16 MB scanned
		{64 << 20, 100, 12},            // 2,000 workers with a connection each
		{256 << 20, 100, minGCPercent}, // the floor
		{16 << 20, 40, 40},             // GOGC=40: never raised
		{16 << 20, 5, 5},               // under the floor already
		{16 << 20, -1, -1},             // GOGC=off
		{64 << 20, 200, 12},            // GOGC=200 is lowered as the default is
	} {
		if got := gcPercentFor(tc.scanned, tc.own); got != tc.want {
			t.Errorf("gcPercentFor(%d MB, %d) = %d, want %d", tc.scanned>>20, tc.own, got, tc.want)
		}
	}
}
