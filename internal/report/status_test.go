package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRunningResultHasNullFinishedAt: a running result writes finished_at as null, matches the
// schema, reads back, and names its process; a finished one keeps its time.
func TestRunningResultHasNullFinishedAt(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.Status, r.FinishedAt = StatusRunning, time.Time{}
	r.Process = &Process{PID: 42, Host: "h", ProcStart: "123"}
	r.Params["note"] = `"finished_at":"0001-01-01T00:00:00Z"` // the same text in a value is left alone
	doc, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := raw["finished_at"]; !ok || v != nil {
		t.Errorf("finished_at = %v (present %v), want null", v, ok)
	}
	if raw["params"].(map[string]any)["note"] != r.Params["note"] {
		t.Errorf("a parameter's text was changed: %v", raw["params"])
	}
	if err := Validate(doc); err != nil {
		t.Errorf("a running result does not match the schema: %v", err)
	}
	var back Result
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	if !back.FinishedAt.IsZero() || back.Status != StatusRunning || back.Process == nil || back.Process.PID != 42 {
		t.Errorf("read back %+v", back)
	}
	done := sampleResult()
	doc, _ = json.Marshal(done)
	if !strings.Contains(string(doc), `"finished_at":"1970-01-01T00:00:10Z"`) {
		t.Errorf("a finished result lost its finished_at: %s", doc)
	}
}

// TestNotOKIsSaid: compare and the findings say of a result that is not ok that it is not.
func TestNotOKIsSaid(t *testing.T) {
	t.Parallel()
	a, b := sampleResult(), sampleResult()
	b.RunID, b.Status, b.Reason = "r2", StatusFailed, "the server went away: postgres exited"
	cmp, err := Compare([]*Result{a}, []*Result{b}, "base", "new", DefaultAlpha)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{cmp.Text(), cmp.Markdown()} {
		if !strings.Contains(out, "B: run r2 is not ok (status failed): the server went away") {
			t.Errorf("compare does not say B is not ok:\n%s", out)
		}
		if strings.Contains(out, "run r1 is not ok") {
			t.Errorf("compare calls the ok run not ok:\n%s", out)
		}
	}
	running := sampleResult()
	running.Status = StatusRunning
	if md := Markdown(running); !strings.Contains(md, "still running, or was killed") {
		t.Errorf("summary of a running result does not say so:\n%s", md)
	}
}
