package harness

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The in-place parsing reads what os.ReadFile and strings.Fields read.
func TestProcReaderMatchesReadFile(t *testing.T) {
	pid := os.Getpid()
	var r procReader
	got, err := r.stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	// The CPU times may tick between the two reads; the parent does not change.
	if got.ppid != want.ppid || got.ppid != os.Getppid() || got.utime > want.utime || got.stime > want.stime {
		t.Errorf("stat: got %+v, os.ReadFile's %+v (ppid %d)", got, want, os.Getppid())
	}
	if private, shared := r.statm(pid); private <= 0 || shared < 0 {
		t.Errorf("statm: private %d, shared %d bytes", private, shared)
	}
	if _, err := r.stat(1 << 30); err == nil {
		t.Error("stat of a pid that does not exist: no error")
	}
}

func TestFieldsOf(t *testing.T) {
	for _, in := range []string{"", "  ", "a", " 1 22  333\n", "S 1 -2 3\t4\n"} {
		var got []string
		for _, f := range fieldsOf([]byte(in)) {
			got = append(got, string(f))
		}
		if want := strings.Fields(in); !slices.Equal(got, want) {
			t.Errorf("fieldsOf(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]int64{"0": 0, "42": 42, "-7": -7, "": 0, "x1": 0, "9223372036854775807": 1<<63 - 1} {
		if got := parseInt([]byte(in)); got != want {
			t.Errorf("parseInt(%q) = %d, want %d", in, got, want)
		}
	}
}

// Reading a backend's stat and statm allocates only the path handed to open(2) (os.ReadFile and
// strings.Fields allocated about 2 KB per backend and second).
func TestProcReaderAllocations(t *testing.T) {
	pid := os.Getpid()
	var r procReader
	r.stat(pid) // the buffer
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = r.stat(pid)
		_, _ = r.statm(pid)
	})
	if allocs > 6 {
		t.Errorf("%.1f allocations per backend read, want at most 6 (the paths)", allocs)
	}
}
