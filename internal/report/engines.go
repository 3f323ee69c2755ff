package report

import (
	"fmt"
	"slices"
	"strings"
)

// EngineLine says which engine ran a series and, when the scenario chose it, why: "engine: mux
// (auto: closed loop, …)"; "" when the series does not say.
func EngineLine(s *Series) string { return EngineText(s.Engine, s.EngineWhy) }

// EngineText is EngineLine of an engine and why it was chosen ("" when chosen by the user).
func EngineText(engine, why string) string {
	switch {
	case engine == "":
		return ""
	case why == "":
		return "engine: " + engine
	}
	return fmt.Sprintf("engine: %s (auto: %s)", engine, why)
}

// labeledSeries is a series with the label a table gives it.
type labeledSeries struct {
	label  string
	series *Series
}

// enginesNote is the sentence under a series table that says which load engine ran the series and
// why: "Engine: mux (auto: closed loop, plaintext connections)." when one answer covers them all,
// else each answer with the series it covers; "" when no series says.
func enginesNote(all []labeledSeries) string {
	var texts []string
	labels := map[string][]string{}
	said := 0
	for _, ls := range all {
		text := EngineLine(ls.series)
		if text == "" {
			continue
		}
		said++
		if _, seen := labels[text]; !seen {
			texts = append(texts, text)
		}
		if !slices.Contains(labels[text], ls.label) {
			labels[text] = append(labels[text], ls.label)
		}
	}
	switch {
	case len(texts) == 0:
		return ""
	case len(texts) == 1 && said == len(all):
		return "E" + texts[0][1:] + "."
	}
	parts := make([]string, len(texts))
	for i, text := range texts {
		parts[i] = fmt.Sprintf("%s: %s", strings.Join(labels[text], ", "), strings.TrimPrefix(text, "engine: "))
	}
	return "Engines: " + strings.Join(parts, "; ") + "."
}
