package scenarios

import (
	"strings"
	"testing"
	"time"
)

var presetDoc = Doc{
	Name: "demo",
	Params: []ParamSpec{
		{Name: "workers", Kind: KindInt, List: true, Default: "10,100", Quick: "5", Full: "10,100,1000", Min: 1},
		{Name: "rows", Kind: KindInt, Default: "1000"},
	},
	Duration: 10 * time.Second, Warmup: 2 * time.Second,
	QuickDuration: 3 * time.Second, QuickWarmup: time.Second,
	FullDuration: 30 * time.Second,
}

// Each preset starts from its own defaults and run lengths, and --set still wins.
func TestPresetDefaults(t *testing.T) {
	for _, c := range []struct {
		preset, workers string
		d, w            time.Duration
	}{
		{PresetQuick, "5", 3 * time.Second, time.Second},
		{PresetDefault, "10,100", 10 * time.Second, 2 * time.Second},
		{PresetFull, "10,100,1000", 30 * time.Second, 2 * time.Second}, // FullWarmup 0 keeps Warmup
	} {
		p, err := ResolvePreset(presetDoc, nil, c.preset)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(p.Strings("workers"), ","); got != c.workers || p.String("rows") != "1000" || p.Preset != c.preset {
			t.Errorf("%s: workers %s rows %s preset %s, want workers %s rows 1000", c.preset, got, p.String("rows"), p.Preset, c.workers)
		}
		if d, w := presetDoc.RunLength(c.preset); d != c.d || w != c.w {
			t.Errorf("%s: runs %s + %s, want %s + %s", c.preset, d, w, c.d, c.w)
		}
	}
	p, err := ResolvePreset(presetDoc, map[string]string{"workers": "7"}, PresetFull)
	if err != nil || p.Int("workers") != 7 || !p.Given("workers") {
		t.Fatalf("--preset full --set workers=7: %v %v", p.Strings("workers"), err)
	}
	if q, _ := ResolveParams(presetDoc, nil, true); !q.Quick || q.Preset != PresetQuick {
		t.Fatalf("ResolveParams(quick) is not the quick preset: %+v", q)
	}
	if !presetDoc.HasFull() || (Doc{Params: []ParamSpec{{Name: "x", Default: "1"}}}).HasFull() {
		t.Fatal("HasFull wrong")
	}
}

func TestCheckPreset(t *testing.T) {
	for _, ok := range Presets {
		if err := CheckPreset(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	err := CheckPreset("qiuck")
	if err == nil || !strings.Contains(err.Error(), `--preset "qiuck": valid presets are quick, default, full (did you mean "quick"?)`) {
		t.Fatalf("error %v", err)
	}
}
