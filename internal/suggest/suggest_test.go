package suggest

import "testing"

func TestDidYouMean(t *testing.T) {
	valid := []string{"workers", "variants", "scale", "connect"}
	cases := map[string]string{
		"wrokers": ` (did you mean "workers"?)`,  // two edits
		"Scale":   ` (did you mean "scale"?)`,    // case
		"var":     ` (did you mean "variants"?)`, // cut short
		"zzzzzz":  "",                            // nothing near
		"":        "",
	}
	for in, want := range cases {
		if got := DidYouMean(in, valid); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := DidYouMeanAs("wrokers", valid, "--"); got != ` (did you mean "--workers"?)` {
		t.Errorf("with a prefix: %q", got)
	}
	if got := DidYouMean("x", nil); got != "" {
		t.Errorf("no candidates: %q", got)
	}
}
