package harness

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pgscale/pgscale/docker"
	"github.com/pgscale/pgscale/internal/usage"
)

// EnvShapes names the environment variable that points at a shapes file of one's own, read
// besides the built-in docker/shapes.yaml (an entry of the same name wins).
const EnvShapes = "PGSCALE_SHAPES"

// Shape limits for sanity. Docker itself refuses less than 6 MiB of memory; a PostgreSQL server
// with its default 128 MB of shared_buffers does not start in less than about 200 MiB, so a
// smaller shape can only be a typo (mb for gb).
const (
	shapeMinMemory = 64 << 20
	shapeMinCPUs   = 0.01 // Docker's own floor for --cpus
)

// Shape is a CPU and memory limit on the PostgreSQL container, so that it stands in for an
// instance class.
type Shape struct {
	Name        string  // as given: "1cpu-1gb", or a name from the shapes file
	CPUs        float64 // CPUs of CFS quota, e.g. 1 or 0.5
	MemoryBytes int64   // memory limit; swap is not allowed beyond it
	Note        string  // what it stands for (named shapes)
	Source      string  // "pattern", "docker/shapes.yaml" or the PGSCALE_SHAPES path
}

// NanoCPUs is the CPU limit in Docker's units (10⁻⁹ CPUs).
func (s Shape) NanoCPUs() int64 { return int64(math.Round(s.CPUs * 1e9)) }

// MemoryMB is the memory limit in MiB.
func (s Shape) MemoryMB() int64 { return s.MemoryBytes >> 20 }

// String is "1 CPU, 1024 MiB".
func (s Shape) String() string {
	return fmt.Sprintf("%s CPU, %d MiB", strconv.FormatFloat(s.CPUs, 'f', -1, 64), s.MemoryMB())
}

// shapePattern is a shape named by its limits: 1cpu-1gb, 2cpu-4gb, 0.5cpu-512mb.
var shapePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)cpus?-([0-9]+(?:\.[0-9]+)?(?:gb|mb|g|m|gib|mib))$`)

// ParseShape resolves --shape: a `<cpus>cpu-<memory>` pattern or a name from the shapes files.
// A name it does not know gets a usage error listing the valid ones.
func ParseShape(name string) (Shape, error) {
	name = strings.TrimSpace(name)
	named, err := LoadShapes()
	if err != nil {
		return Shape{}, err
	}
	if s, ok := named[name]; ok {
		return s, nil
	}
	lower := strings.ToLower(name)
	if m := shapePattern.FindStringSubmatch(lower); m != nil {
		cpus, _ := strconv.ParseFloat(m[1], 64) // the pattern admits only numbers
		mem, err := parseMemory(m[2])
		if err != nil {
			return Shape{}, usage.Fieldf("shape", "%s: %v", name, err)
		}
		s := Shape{Name: name, CPUs: cpus, MemoryBytes: mem, Source: "pattern"}
		if err := s.check(); err != nil {
			return Shape{}, usage.Fieldf("shape", "%s: %v", name, err)
		}
		return s, nil
	}
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	sort.Strings(names)
	return Shape{}, usage.Fieldf("shape", "%q: not a shape; give <cpus>cpu-<memory> (1cpu-1gb, 2cpu-4gb, 0.5cpu-512mb) "+
		"or one of %s", name, strings.Join(names, ", "))
}

// check rejects limits no container could run PostgreSQL with.
func (s Shape) check() error {
	if s.CPUs < shapeMinCPUs {
		return fmt.Errorf("%g CPUs is below Docker's minimum of %g", s.CPUs, shapeMinCPUs)
	}
	if s.MemoryBytes < shapeMinMemory {
		return fmt.Errorf("%d MiB of memory is too little for PostgreSQL (at least %d MiB)", s.MemoryMB(), shapeMinMemory>>20)
	}
	return nil
}

// parseMemory reads 1gb, 512mb, 3.75gb (binary units, as docker run --memory).
func parseMemory(text string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(text))
	units := []struct {
		suffix string
		bytes  float64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"g", 1 << 30}, {"m", 1 << 20}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 || math.IsInf(v, 0) {
				break
			}
			return int64(v * u.bytes), nil
		}
	}
	return 0, fmt.Errorf("memory %q: want a size such as 512mb, 1gb or 3.75gb", text)
}

// shapesFile is the form of docker/shapes.yaml.
type shapesFile struct {
	Shapes map[string]struct {
		CPUs   float64 `yaml:"cpus"`
		Memory string  `yaml:"memory"`
		Note   string  `yaml:"note"`
	} `yaml:"shapes"`
}

// shapeNameRE is what a shape's name may hold.
var shapeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// LoadShapes reads the named shapes: the built-in docker/shapes.yaml, then the file named by
// PGSCALE_SHAPES, if any.
func LoadShapes() (map[string]Shape, error) {
	shapes, err := parseShapes(docker.ShapesYAML, "docker/shapes.yaml")
	if err != nil {
		return nil, err // a broken built-in file is a build error; tests catch it
	}
	if path := os.Getenv(EnvShapes); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usage.Errorf("%s=%s: %v", EnvShapes, path, unwrapPath(err))
		}
		more, err := parseShapes(b, path)
		if err != nil {
			return nil, &usage.Error{Msg: fmt.Sprintf("%s=%s: %v", EnvShapes, path, err)}
		}
		for name, s := range more {
			shapes[name] = s
		}
	}
	return shapes, nil
}

// parseShapes reads one shapes file, every problem at once.
func parseShapes(b []byte, source string) (map[string]Shape, error) {
	var f shapesFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("shapes file %s: %w", source, err)
	}
	shapes := map[string]Shape{}
	var errs []error
	for _, name := range sortedShapeNames(f) {
		e := f.Shapes[name]
		if !shapeNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("shapes file %s: name %q: use lowercase letters, digits, '.', '_' and '-'", source, name))
			continue
		}
		mem, err := parseMemory(e.Memory)
		if err != nil {
			errs = append(errs, fmt.Errorf("shapes file %s: %s: %w", source, name, err))
			continue
		}
		s := Shape{Name: name, CPUs: e.CPUs, MemoryBytes: mem, Note: e.Note, Source: source}
		if err := s.check(); err != nil {
			errs = append(errs, fmt.Errorf("shapes file %s: %s: %w", source, name, err))
			continue
		}
		shapes[name] = s
	}
	return shapes, errors.Join(errs...)
}

func sortedShapeNames(f shapesFile) []string {
	names := make([]string, 0, len(f.Shapes))
	for n := range f.Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// unwrapPath drops the path from an *os.PathError, which the caller names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
