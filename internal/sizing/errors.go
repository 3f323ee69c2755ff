package sizing

import (
	"errors"

	"github.com/pgscale/pgscale/internal/usage"
)

// joinUsage is every problem of errs in one usage error (nil for none).
func joinUsage(errs []error) error { return usage.Join(errs) }

// usagef is a usage error: bad input the user can fix. The CLI exits 2 on it.
func usagef(format string, args ...any) error { return usage.Errorf(format, args...) }

// IsUsage reports whether err is bad input rather than a failure.
func IsUsage(err error) bool {
	var u *usage.Error
	return errors.As(err, &u)
}
