package sizing

import (
	"testing"
)

// FuzzDecodeWorkload: a workload file of any content decodes or gets a usage error, never a panic.
func FuzzDecodeWorkload(f *testing.F) {
	f.Add([]byte("name: x\nrequests:\n  peak_rate: 800\n  hold_time: 250ms\n  db_time: 5ms\npooler: false\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := DecodeWorkload(data, "fuzz.yaml")
		if err == nil && spec == nil {
			t.Fatal("DecodeWorkload gave neither a spec nor an error")
		}
		if err != nil && !IsUsage(err) {
			t.Fatalf("DecodeWorkload: %v is not a usage error", err)
		}
	})
}

// FuzzParseProvider: a catalog file of any content decodes or gets a usage error, never a panic.
func FuzzParseProvider(f *testing.F) {
	f.Add([]byte("provider: x\nname: X\ninstances:\n  - {name: a, vcpus: 2, memory: 4GB, price_per_hour: 0.1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProvider(data, "fuzz.yaml")
		if err == nil && p == nil {
			t.Fatal("ParseProvider gave neither a provider nor an error")
		}
		if err != nil && !IsUsage(err) {
			t.Fatalf("ParseProvider: %v is not a usage error", err)
		}
	})
}
