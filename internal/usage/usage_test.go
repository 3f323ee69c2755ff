package usage

import (
	"errors"
	"fmt"
	"testing"
)

func TestFieldsAreSpelledByTheFrontEnd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err       error
		flag, key string
	}{
		{Fieldf("repeat", "%d: must be at least 1", 0), "--repeat 0: must be at least 1", "repeat 0: must be at least 1"},
		{Fieldf("dsn", "is empty: give a URL"), "--dsn is empty: give a URL", "dsn is empty: give a URL"},
		{Fieldf("capacity", ": scenario x runs a closed loop only"), "--capacity: scenario x runs a closed loop only", "capacity: scenario x runs a closed loop only"},
		{Errorf("no script to run"), "no script to run", "no script to run"},
		{fmt.Errorf("select-only: %w", Fieldf("set", "scale=0: must be at least 1")), "select-only: --set scale=0: must be at least 1", "select-only: set scale=0: must be at least 1"},
		{errors.New("plain"), "plain", "plain"},
	}
	for _, c := range cases {
		if got := Render(c.err, Flag); got != c.flag {
			t.Errorf("Render(%v, Flag) = %q, want %q", c.err, got, c.flag)
		}
		if got := Render(c.err, Key); got != c.key {
			t.Errorf("Render(%v, Key) = %q, want %q", c.err, got, c.key)
		}
		if c.err.Error() != c.flag {
			t.Errorf("Error() = %q, want the flag spelling %q", c.err.Error(), c.flag)
		}
	}
}

func TestJoinKeepsEveryFieldALine(t *testing.T) {
	t.Parallel()
	if Join(nil) != nil || Join([]error{nil}) != nil {
		t.Fatal("Join of nothing is not nil")
	}
	inner := Join([]error{Fieldf("set", "a=1: unknown"), Fieldf("set", "b=: empty value")})
	err := Join([]error{Fieldf("rate", "-1: must be 0 or more"), inner, errors.New("not a usage error")})
	if !Is(err) || !Is(fmt.Errorf("wrapped: %w", err)) || Is(errors.New("x")) {
		t.Fatal("Is does not tell usage errors")
	}
	want := "rate -1: must be 0 or more\nset a=1: unknown\nset b=: empty value\nnot a usage error"
	if got := Render(err, Key); got != want {
		t.Errorf("Render(Key) = %q, want %q", got, want)
	}
	if got := err.Error(); got != "--rate -1: must be 0 or more\n--set a=1: unknown\n--set b=: empty value\nnot a usage error" {
		t.Errorf("Error() = %q", got)
	}
	if one := Join([]error{Fieldf("x", "1")}); one.Error() != "--x 1" {
		t.Errorf("Join of one = %q", one)
	}
}

// TestRenderJoined: every usage error of an errors.Join is spelled, not only the first.
func TestRenderJoined(t *testing.T) {
	err := errors.Join(Fieldf("set", "engine=mux runs the prepared variant only"), Fieldf("set", "engine=mux opens its connections once"))
	got := Render(err, func(f string) string { return f })
	want := "set engine=mux runs the prepared variant only\nset engine=mux opens its connections once"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}
