package script

import "strconv"

// SyntaxError is an error in a script found when it is parsed.
type SyntaxError struct {
	File string
	Line int // 1-based
	Col  int // 1-based, in bytes
	Msg  string
}

func (e *SyntaxError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col) + ": " + e.Msg
}

// RuntimeError is an error of the script itself found while it runs (an unset variable, a
// division by zero, \gset on a query that returned no row...): the recorder counts it under the
// class ErrorClass.
type RuntimeError struct {
	File string
	Line int
	Msg  string
}

// ErrorClass is the class under which runtime errors of scripts are counted.
const ErrorClass = "script_error"

func (e *RuntimeError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}
