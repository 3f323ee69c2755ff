package gate

import (
	"fmt"
	"testing"

	"github.com/pgscale/pgscale/internal/usage"
)

// TestUsageErrorsNameTheGateFilesKeys: a library's usage error names its field; the gate spells
// it as its own key, also where the key differs from the flag, and leaves context as it is.
func TestUsageErrorsNameTheGateFilesKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{usage.Fieldf("set", "scale=0: must be at least 1"), "set scale=0: must be at least 1"},
		{usage.Fieldf("repeat", "0: must be at least 1"), "repeats 0: must be at least 1"},
		{fmt.Errorf("entry: %w", usage.Fieldf("pg-setting", "fsync=off: refused")), "entry: pg_settings fsync=off: refused"},
		{usage.Fieldf("target", `"k8s": valid targets are auto`), `target "k8s": valid targets are auto`},
	} {
		if got := usage.Render(c.err, yamlKey); got != c.want {
			t.Errorf("Render(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
