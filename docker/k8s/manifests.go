// Package k8s holds pgscale's Kubernetes manifests for sharded runs (README.md beside this file)
// and reads them as Kubernetes would: Render fills their ${NAME} parameters as envsubst does, and
// Decode decodes a manifest strictly into the Kubernetes API types (k8s.io/api), the way the API
// server's strict field validation does, so that a misspelt or misplaced field is an error and
// not silently dropped. The tests decode every manifest; pgscale's own binary does not use this
// package.
package k8s

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

//go:embed *.yaml params.env
var files embed.FS

// Manifests lists the manifests, in the order a run applies them.
var Manifests = []string{"results-pvc.yaml", "prepare-job.yaml", "job.yaml", "merge-job.yaml", "fetch-pod.yaml"}

// File returns a manifest (or params.env) as it is in this directory.
func File(name string) ([]byte, error) { return files.ReadFile(name) }

// Params reads params.env: the manifests' parameters with their example values.
func Params() (map[string]string, error) {
	data, err := files.ReadFile("params.env")
	if err != nil {
		return nil, err
	}
	params := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("params.env:%d: %q is not NAME=value", n, line)
		}
		params[k] = v
	}
	return params, sc.Err()
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Render fills data's ${NAME} parameters from params, as envsubst does, and returns the names it
// filled; a parameter params lacks is an error. The $(NAME) that Kubernetes expands in a pod are
// left alone.
func Render(data []byte, params map[string]string) ([]byte, []string, error) {
	used := map[string]bool{}
	var missing []string
	out := placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		key := string(placeholder.FindSubmatch(m)[1])
		v, ok := params[key]
		if !ok {
			missing = append(missing, key)
			return m
		}
		used[key] = true
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("undefined parameters %s (params.env lists them)", strings.Join(missing, ", "))
	}
	names := make([]string, 0, len(used))
	for k := range used {
		names = append(names, k)
	}
	sort.Strings(names)
	return out, names, nil
}

// decoder decodes YAML strictly into the API types of the groups the manifests use: an unknown
// or duplicate field is an error, field names match case-sensitively, as in the API server.
var decoder = sync.OnceValues(func() (runtime.Decoder, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{batchv1.AddToScheme, corev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("kubernetes API types: %w", err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true}), nil
})

// Decode decodes one rendered manifest strictly into its Kubernetes API type (*batchv1.Job,
// *corev1.Pod, *corev1.PersistentVolumeClaim ...), chosen by its apiVersion and kind.
func Decode(data []byte) (runtime.Object, error) {
	dec, err := decoder()
	if err != nil {
		return nil, err
	}
	obj, _, err := dec.Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// Load renders the named manifest with params and decodes it strictly.
func Load(name string, params map[string]string) (runtime.Object, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	rendered, _, err := Render(data, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	obj, err := Decode(rendered)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return obj, nil
}
