package main

import (
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/usage"
)

// FuzzSet: `--set` values of any content, given to every scenario, give a plan or a usage error,
// never a panic.
func FuzzSet(f *testing.F) {
	for _, s := range []string{"workers=1,10,100", "variants=warm,cold", "batch=0", "duration=1h", "max_connections=-1", "=x", "workers"} {
		f.Add(s, "quick=true")
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		sets, err := parsePairs("--set", []string{first, second})
		if err != nil {
			if !usage.Is(err) {
				t.Fatalf("parsePairs: %v is not a usage error", err)
			}
			return
		}
		for _, name := range scenarios.Names() {
			sc, err := scenarios.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, quick := range []bool{false, true} {
				params, err := scenarios.ResolveParams(sc.Doc(), sets, quick)
				if err != nil {
					if !usage.Is(err) {
						t.Fatalf("%s --set %q --set %q: %v is not a usage error", name, first, second, err)
					}
					continue
				}
				_, _ = sc.Plan(params)
			}
		}
	})
}
