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

// enginesNote is the sentence under a series table that says which load engine ran the groups'
// series and why: "Engine: mux (auto: closed loop, plaintext connections)." when one answer covers
// them all, else each answer with the groups it covers; "" when no series says.
func enginesNote(groups []*Group) string {
	var texts []string
	labels := map[string][]string{}
	said, all := 0, 0
	for _, g := range groups {
		for _, s := range g.Repeats {
			all++
			text := EngineLine(s)
			if text == "" {
				continue
			}
			said++
			if _, seen := labels[text]; !seen {
				texts = append(texts, text)
			}
			if !slices.Contains(labels[text], g.Label()) {
				labels[text] = append(labels[text], g.Label())
			}
		}
	}
	switch {
	case len(texts) == 0:
		return ""
	case len(texts) == 1 && said == all:
		return "E" + texts[0][1:] + "."
	}
	parts := make([]string, len(texts))
	for i, text := range texts {
		parts[i] = fmt.Sprintf("%s: %s", strings.Join(labels[text], ", "), strings.TrimPrefix(text, "engine: "))
	}
	return "Engines: " + strings.Join(parts, "; ") + "."
}
