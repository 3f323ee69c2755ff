package sizing

import (
	"errors"
	"strings"

	"github.com/pgscale/pgscale/harness"
)

// usagef is a usage error: bad input the user can fix. The CLI exits 2 on it.
func usagef(format string, args ...any) error { return harness.Usagef(format, args...) }

// joinUsage joins problems into one usage error, one per line.
func joinUsage(errs []error) error {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	if len(msgs) == 0 {
		return nil
	}
	return &harness.UsageError{Msg: strings.Join(msgs, "\n")}
}

// IsUsage reports whether err is bad input rather than a failure.
func IsUsage(err error) bool {
	var u *harness.UsageError
	return errors.As(err, &u)
}
