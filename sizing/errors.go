package sizing

import (
	"errors"

	"github.com/pgscale/pgscale/harness"
)

// joinUsage is every problem of errs in one usage error (nil for none).
func joinUsage(errs []error) error { return harness.JoinUsage(errs) }

// usagef is a usage error: bad input the user can fix. The CLI exits 2 on it.
func usagef(format string, args ...any) error { return harness.Usagef(format, args...) }

// IsUsage reports whether err is bad input rather than a failure.
func IsUsage(err error) bool {
	var u *harness.UsageError
	return errors.As(err, &u)
}
