package script

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// kind is the type of a value, as pgbench's PgBenchValueType.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt
	kDouble
	kString // set by -D or \gset/\aset; parsed when an expression uses it
)

// value is a variable's or an expression's value.
type value struct {
	k kind
	b bool
	i int64
	f float64
	s string
}

func intValue(i int64) value      { return value{k: kInt, i: i} }
func doubleValue(f float64) value { return value{k: kDouble, f: f} }
func boolValue(b bool) value      { return value{k: kBool, b: b} }

var nullValue = value{k: kNull}

// evalError is an error raised while evaluating an expression; the caller wraps it into a
// *RuntimeError that names the command's file:line.
type evalError struct{ msg string }

func (e *evalError) Error() string { return e.msg }

func errorf(msg string) error { return &evalError{msg: msg} }

func kindName(k kind) string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kInt:
		return "int"
	case kDouble:
		return "double"
	}
	return "string"
}

// parseStringValue turns a string variable into a typed value as pgbench does when an expression
// reads it: null, a boolean word, an integer, or a double; anything else is malformed.
func parseStringValue(s string) (value, bool) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "null":
		return nullValue, true
	case "true", "t", "yes", "on":
		return boolValue(true), true
	case "false", "f", "no", "off":
		return boolValue(false), true
	}
	if i, err := strconv.ParseInt(t, 10, 64); err == nil {
		return intValue(i), true
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil || errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0) {
		return doubleValue(f), true
	}
	return value{}, false
}

// text is the value as it is substituted into SQL or shown by debug(): integers in decimal,
// doubles with 15 significant digits (as C's %.15g), booleans as true/false, NULL as NULL.
func (v value) text() string {
	switch v.k {
	case kNull:
		return "NULL"
	case kBool:
		if v.b {
			return "true"
		}
		return "false"
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kDouble:
		return formatDouble(v.f)
	}
	return v.s
}

// appendText appends v.text() to dst without allocating for numbers.
func (v value) appendText(dst []byte) []byte {
	switch v.k {
	case kInt:
		return strconv.AppendInt(dst, v.i, 10)
	case kString:
		return append(dst, v.s...)
	}
	return append(dst, v.text()...)
}

func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// typed resolves a string value into a typed one.
func (v value) typed(name string) (value, error) {
	if v.k != kString {
		return v, nil
	}
	t, ok := parseStringValue(v.s)
	if !ok {
		return value{}, errorf("malformed variable \"" + name + "\" value: \"" + v.s + "\"")
	}
	return t, nil
}

// toInt coerces as pgbench's coerceToInt: doubles are rounded to the nearest integer (ties to even).
func (v value) toInt() (int64, error) {
	switch v.k {
	case kInt:
		return v.i, nil
	case kDouble:
		r := math.RoundToEven(v.f)
		if math.IsNaN(r) || r < -9.223372036854775808e18 || r >= 9.223372036854775808e18 {
			text := strconv.FormatFloat(v.f, 'f', 6, 64)
			if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
				text = formatDouble(v.f)
			}
			return 0, errorf("double to int overflow for " + text)
		}
		return int64(r), nil
	}
	return 0, errorf("cannot coerce " + kindName(v.k) + " to int")
}

func (v value) toDouble() (float64, error) {
	switch v.k {
	case kInt:
		return float64(v.i), nil
	case kDouble:
		return v.f, nil
	}
	return 0, errorf("cannot coerce " + kindName(v.k) + " to double")
}

func (v value) toBool() (bool, error) {
	if v.k == kBool {
		return v.b, nil
	}
	return false, errorf("cannot coerce " + kindName(v.k) + " to boolean")
}

// truth is the value's truth for \if and CASE WHEN: non-zero numbers are true, NULL is false.
func (v value) truth() bool {
	switch v.k {
	case kBool:
		return v.b
	case kInt:
		return v.i != 0
	case kDouble:
		return v.f != 0
	}
	return false
}
