package loadgen

import (
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestOneProcNestsAndRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	if before == 1 {
		runtime.GOMAXPROCS(2)
		defer runtime.GOMAXPROCS(1)
		before = 2
	}
	outer := oneProc()
	inner := oneProc()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS %d during a per-op run, want 1", got)
	}
	outer()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS %d while a second per-op run goes on, want 1", got)
	}
	inner()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after the runs, want %d restored", got, before)
	}
}

func TestServerOnThisMachine(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want bool
	}{
		{"host=127.0.0.1 port=5432", true},
		{"host=::1", true},
		{"host=localhost", true},
		{"host=/var/run/postgresql", true},
		{"host=db.example.com", false},
		{"host=10.0.0.5", false},
		{"host=127.0.0.1,db.example.com", false},
	} {
		cc, err := pgx.ParseConfig(c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := serverOnThisMachine(cc); got != c.want {
			t.Errorf("%s: on this machine %v, want %v", c.dsn, got, c.want)
		}
	}
}
