// Package usage holds pgscale's error for bad input from the user: a command that meets one
// exits 2 and starts nothing.
//
// A library names the input a message is about as a field ("repeat", "set", "target") and says
// what is wrong with it and what is valid; it does not know whether the input came from a flag
// of the command line or a key of a gate file. Each front end spells the field its own way when
// it renders the message: Error() and the command line write it as a flag (Flag: --repeat), the
// gate writes it as its key in the YAML (Key: repeat). So
//
//	usage.Fieldf("repeat", "%d: must be at least 1", 0)
//
// reads "--repeat 0: must be at least 1" from pgscale run and "repeat 0: must be at least 1" in a
// gate file's errors, with no string editing.
package usage

import (
	"errors"
	"fmt"
	"strings"
)

// Error is bad input from the user.
type Error struct {
	// Field names the input the message is about, as the library knows it: "repeat", "set",
	// "target"; "" when the message names no field of its own.
	Field string
	// Msg is the message after the field when there is one ("0: must be at least 1", "is
	// empty: give a URL"), else the whole message.
	Msg string
	// joined are the errors of Join, rendered a line each.
	joined []*Error
}

// Error renders the message as the command line reads it (Flag).
func (e *Error) Error() string { return e.Render(Flag) }

// Render renders the message with spell for its fields; joined errors take a line each.
func (e *Error) Render(spell func(field string) string) string {
	if len(e.joined) > 0 {
		lines := make([]string, len(e.joined))
		for i, j := range e.joined {
			lines[i] = j.Render(spell)
		}
		return strings.Join(lines, "\n")
	}
	switch {
	case e.Field == "":
		return e.Msg
	case e.Msg == "" || strings.HasPrefix(e.Msg, ":"):
		return spell(e.Field) + e.Msg
	}
	return spell(e.Field) + " " + e.Msg
}

// Flag spells a field as the command line's flag: repeat is --repeat.
func Flag(field string) string { return "--" + field }

// Key spells a field as a configuration file's key: repeat is repeat.
func Key(field string) string { return field }

// Errorf is a usage error whose message names no field.
func Errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Fieldf is a usage error about field; the message follows the field's name:
// Fieldf("rate", "%g: must be 0 or more", r).
func Fieldf(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Join is one usage error holding every error of errs, a line each (nil for none). The usage
// errors among them keep their fields; any other error is kept as its message.
func Join(errs []error) error {
	var out []*Error
	for _, err := range errs {
		var u *Error
		switch {
		case err == nil:
			continue
		case errors.As(err, &u) && u == err:
			if len(u.joined) > 0 {
				out = append(out, u.joined...)
			} else {
				out = append(out, u)
			}
		default:
			out = append(out, &Error{Msg: err.Error()})
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return &Error{joined: out}
}

// Is reports whether err is (or wraps) a usage error.
func Is(err error) bool {
	var u *Error
	return errors.As(err, &u)
}

// Render is err's message with the fields of the usage error in it (or wrapped by it) spelled
// by spell; any other error reads as its Error().
func Render(err error, spell func(field string) string) string {
	var u *Error
	if !errors.As(err, &u) {
		return err.Error()
	}
	// errors.Join of usage errors (a check that finds several): each line rendered.
	if j, ok := err.(interface{ Unwrap() []error }); ok && u != err {
		errs := j.Unwrap()
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		if strings.Join(lines, "\n") == err.Error() {
			for i, e := range errs {
				lines[i] = Render(e, spell)
			}
			return strings.Join(lines, "\n")
		}
	}
	if u == err {
		return u.Render(spell)
	}
	// A usage error wrapped with context ("scenario x: --set ..."): the context stays as it is.
	return strings.Replace(err.Error(), u.Error(), u.Render(spell), 1)
}
