package all

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgscale/pgscale/internal/scenarios"
	"github.com/pgscale/pgscale/internal/scenarios/queue"
	"github.com/pgscale/pgscale/result"
)

// The metric names and the timeline's column names are constants (result/metric_names.go for the
// shared ones, one metric_names.go per scenario), so a misspelt name no longer compiles. What the compiler cannot see is a
// constant whose value is wrong, a name declared twice, or a name that reaches a result without
// a declaration; these tests do, from the source and from the results committed in the repo.

// repoRoot is the module's root, from this package's directory.
const repoRoot = "../../.."

// metricNames are the declared names: whole names, prefixes and suffixes (MetricPrefix…,
// MetricSuffix…), each with the package that declares it, and the timeline's columns (Column…).
type metricNames struct {
	names, prefixes, suffixes map[string][]string // value -> declaring packages
	byPackage                 map[string]map[string]string
	columns                   map[string][]string          // value -> declaring packages
	columnsByPackage          map[string]map[string]string // package -> constant -> value
}

var (
	snakeName   = regexp.MustCompile(`^[a-z][a-z0-9_]*[a-z0-9]$`)
	snakeSuffix = regexp.MustCompile(`^_[a-z0-9_]*[a-z0-9_]$`)
	classPart   = regexp.MustCompile(`^[a-z0-9]+$`)
)

// declaredMetrics reads the Metric… and Column… constants of package result and of every
// scenario package, evaluating their values from the packages' constants. Such a constant outside
// a metric_names.go fails the test: the names have one home per package.
func declaredMetrics(t *testing.T) metricNames {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "internal", "scenarios", "*", "metric_names.go"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"result"}
	for _, d := range dirs {
		rel, _ := filepath.Rel(repoRoot, filepath.Dir(d))
		pkgs = append(pkgs, filepath.ToSlash(rel))
	}
	consts := map[string]map[string]ast.Expr{} // package -> constant -> expression
	files := map[string]map[string]string{}    // package -> Metric… constant -> file
	for _, pkg := range pkgs {
		consts[pkg], files[pkg] = map[string]ast.Expr{}, map[string]string{}
		paths, _ := filepath.Glob(filepath.Join(repoRoot, pkg, "*.go"))
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							consts[pkg][n.Name] = vs.Values[i]
						}
						if strings.HasPrefix(n.Name, "Metric") || strings.HasPrefix(n.Name, "Column") {
							files[pkg][n.Name] = filepath.Base(path)
						}
					}
				}
			}
		}
	}
	var eval func(pkg string, e ast.Expr) (string, bool)
	eval = func(pkg string, e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.ParenExpr:
			return eval(pkg, e.X)
		case *ast.Ident:
			if x, ok := consts[pkg][e.Name]; ok {
				return eval(pkg, x)
			}
		case *ast.SelectorExpr:
			if id, ok := e.X.(*ast.Ident); ok && id.Name == "result" {
				if x, ok := consts["result"][e.Sel.Name]; ok {
					return eval("result", x)
				}
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(pkg, e.X)
				b, ok2 := eval(pkg, e.Y)
				return a + b, ok1 && ok2
			}
		}
		return "", false
	}
	m := metricNames{names: map[string][]string{}, prefixes: map[string][]string{}, suffixes: map[string][]string{},
		byPackage: map[string]map[string]string{}, columns: map[string][]string{}, columnsByPackage: map[string]map[string]string{}}
	for _, pkg := range pkgs {
		m.byPackage[pkg], m.columnsByPackage[pkg] = map[string]string{}, map[string]string{}
		for name, file := range files[pkg] {
			if file != "metric_names.go" {
				t.Errorf("%s: %s is declared in %s; metric names belong in metric_names.go", pkg, name, file)
			}
			v, ok := eval(pkg, consts[pkg][name])
			if !ok {
				t.Errorf("%s: %s is not a string constant made of literals and constants", pkg, name)
				continue
			}
			if strings.HasPrefix(name, "Column") {
				m.columnsByPackage[pkg][name] = v
				m.columns[v] = append(m.columns[v], pkg)
				continue
			}
			m.byPackage[pkg][name] = v
			switch {
			case strings.HasPrefix(name, "MetricPrefix"):
				m.prefixes[v] = append(m.prefixes[v], pkg)
			case strings.HasPrefix(name, "MetricSuffix"):
				m.suffixes[v] = append(m.suffixes[v], pkg)
			default:
				m.names[v] = append(m.names[v], pkg)
			}
		}
	}
	if len(m.byPackage["result"]) == 0 || len(m.names) < 100 || len(m.columns) < 20 {
		t.Fatalf("read %d metric names (%d in result) and %d columns; the declarations were not found",
			len(m.names), len(m.byPackage["result"]), len(m.columns))
	}
	return m
}

// declares tells whether key is a declared name, a declared prefix followed by a declared suffix
// (claim_p99_ms; after a suffix that ends in _, an error class: feeder_errors_57p01), or a
// declared prefix, _ and a declared name (queue_dead_tuples).
func (m metricNames) declares(key string) bool {
	if _, ok := m.names[key]; ok {
		return true
	}
	for p := range m.prefixes {
		rest, ok := strings.CutPrefix(key, p)
		if !ok {
			continue
		}
		for s := range m.suffixes {
			if rest == s {
				return true
			}
			if class, ok := strings.CutPrefix(rest, s); ok && strings.HasSuffix(s, "_") && classPart.MatchString(class) {
				return true
			}
		}
		if name, ok := strings.CutPrefix(rest, "_"); ok {
			if _, ok := m.names[name]; ok {
				return true
			}
		}
	}
	return false
}

// TestMetricNamesWellFormed: every declared value is a snake_case name (a suffix starts with _),
// no package declares one value under two constants (a copy-paste slip that makes two figures
// one), and no scenario declares again a name package result declares. Metric names and column
// names are apart: queue's dead_tuples is both a series figure and a table's column.
func TestMetricNamesWellFormed(t *testing.T) {
	m := declaredMetrics(t)
	checkDeclarations(t, "column", m.columnsByPackage, m.columns)
	checkDeclarations(t, "metric", m.byPackage, m.names)
}

// checkDeclarations holds one kind of name (metric or column) to TestMetricNamesWellFormed's
// rules: byPackage maps package -> constant -> value, whole maps a whole name's value to the
// packages declaring it.
func checkDeclarations(t *testing.T, kind string, byPackage map[string]map[string]string, whole map[string][]string) {
	t.Helper()
	for pkg, consts := range byPackage {
		seen := map[string]string{}
		for name, v := range consts {
			re := snakeName
			if strings.HasPrefix(name, "MetricSuffix") {
				re = snakeSuffix
			}
			if !re.MatchString(v) {
				t.Errorf("%s.%s = %q: not a snake_case %s name", pkg, name, v, kind)
			}
			if other, ok := seen[v]; ok {
				t.Errorf("%s: %s and %s are both %q", pkg, min(name, other), max(name, other), v)
			}
			seen[v] = name
		}
	}
	for v, pkgs := range whole {
		if len(pkgs) > 1 && slices.Contains(pkgs, "result") {
			t.Errorf("%s %q is declared by result and again by %v: use result's", kind, v, pkgs)
		}
	}
}

// TestCommittedResultsUseDeclaredNames: every metric in a result committed to the repository
// (the report's fixtures, sizing's inputs, the gate's baselines, all written by real runs or by
// the fixtures' builders) is a declared name. A constant whose value drifted from what the
// scenario wrote before fails here.
func TestCommittedResultsUseDeclaredNames(t *testing.T) {
	m := declaredMetrics(t)
	checked := 0
	for _, dir := range []string{"internal/report/testdata", "internal/sizing/testdata", "results/baselines"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var r result.Result
			if err := json.Unmarshal(b, &r); err != nil || !result.ReadableSchema(r.Schema) {
				return nil // not a result
			}
			unknown := map[string]bool{}
			for _, s := range r.Series {
				for key := range s.Metrics {
					checked++
					unknown[key] = unknown[key] || !m.declares(key)
				}
			}
			for key, bad := range unknown {
				if bad {
					t.Errorf("%s: metric %q, which no metric_names.go declares", path, key)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d metrics of committed results; the results were not found", checked)
	}
}

// gateCheck is the figure a gate check names: "ingest batch=1000: rows_lost == 0" -> rows_lost.
var gateCheck = regexp.MustCompile(`^\s*-\s*"[^":]+:\s*([a-z0-9_.]+)`)

// TestGateFilesNameDeclaredMetrics: every metric a gate file in the repository checks is a
// declared name, so that a misspelt check fails here rather than on its first run.
func TestGateFilesNameDeclaredMetrics(t *testing.T) {
	m := declaredMetrics(t)
	for _, f := range []string{"pgscale.gate.yaml", ".ci/gate.yaml", "examples/own-workload.gate.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			g := gateCheck.FindStringSubmatch(line)
			if g == nil {
				continue
			}
			field := g[1]
			if field == result.HeadlineThroughput || field == "errors" ||
				strings.HasPrefix(field, "errors.") || strings.HasPrefix(field, "latency_ms.") {
				continue
			}
			if name := strings.TrimPrefix(field, "metrics."); !m.declares(name) {
				t.Errorf("%s: %q checks metric %s, which no metric_names.go declares", f, strings.TrimSpace(line), name)
			}
		}
	}
}

// TestHeadlineMetricsDeclared: the metric a scenario's headline names is declared, by the scenario
// or by result: findings, summaries and the gate read the series' metrics under that name.
func TestHeadlineMetricsDeclared(t *testing.T) {
	m := declaredMetrics(t)
	for _, name := range scenarios.Names() {
		sc, err := scenarios.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if h := sc.Doc().Headline; h != nil && h.OwnMetric() && !m.declares(h.Metric) {
			t.Errorf("%s: headline metric %q is not declared", name, h.Metric)
		}
	}
}

// literalMetricKey is a metric, a timeline column or a histogram read or written under a string
// literal: Metrics["…"], Extra["…"] or extra["…"], or a map of them spelt out.
var literalMetricKey = regexp.MustCompile(`\.Metrics\["|[eE]xtra\["|(?:[eE]xtra|Metrics) = map\[string\]float64\{"`)

// TestNoLiteralMetricKeys: no code outside the tests indexes a series' metrics, a timeline's
// columns or an outcome's histograms with a string literal, which a typo would turn into a
// silent 0 or a column the report never draws.
func TestNoLiteralMetricKeys(t *testing.T) {
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != repoRoot && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if literalMetricKey.MatchString(line) {
				t.Errorf("%s:%d: a metric under a string literal; declare it in metric_names.go: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestQueueTableColumnsAreTheReports: the report draws the queue's dead tuples from the columns
// result names; queue writes them as <table>_<figure>, so the two spellings must meet.
func TestQueueTableColumnsAreTheReports(t *testing.T) {
	for _, c := range []struct{ table, want string }{
		{queue.MetricPrefixQueue, result.ColumnQueueDeadTuples},
		{queue.MetricPrefixTask, result.ColumnTaskDeadTuples},
	} {
		if got := c.table + "_" + queue.ColumnFigureDeadTuples; got != c.want {
			t.Errorf("queue writes %q, the report reads %q", got, c.want)
		}
	}
}
