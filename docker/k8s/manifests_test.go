package k8s

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func params(t *testing.T) map[string]string {
	t.Helper()
	p, err := Params()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func load[T any](t *testing.T, name string, p map[string]string) T {
	t.Helper()
	obj, err := Load(name, p)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := obj.(T)
	if !ok {
		t.Fatalf("%s decoded to %T, want %T", name, obj, *new(T))
	}
	return v
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	t.Parallel()
	p := params(t)
	used := map[string]bool{}
	for _, name := range Manifests {
		data, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		rendered, names, err := Render(data, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, n := range names {
			used[n] = true
		}
		if _, err := Decode(rendered); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for k := range p {
		if !used[k] {
			t.Errorf("params.env defines %s, which no manifest uses", k)
		}
	}
}

func TestShardJob(t *testing.T) {
	t.Parallel()
	p := params(t)
	job := load[*batchv1.Job](t, "job.yaml", p)
	spec := job.Spec
	shards := p["SHARDS"]
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("job.yaml: completionMode %v, want Indexed", spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || fmt.Sprint(*spec.Completions) != shards || fmt.Sprint(*spec.Parallelism) != shards {
		t.Fatalf("job.yaml: completions and parallelism must both be SHARDS (%s)", shards)
	}
	if spec.BackoffLimitPerIndex == nil || *spec.BackoffLimitPerIndex != 0 || spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatal("job.yaml: a failed shard must not be retried (backoffLimitPerIndex 0, restartPolicy Never)")
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("job.yaml: %d containers", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	for _, want := range []string{"--shard=$(JOB_COMPLETION_INDEX)/" + shards, "--run-id=" + p["RUN_ID"], "--skip-setup"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("job.yaml: args %q lack %s", c.Args, want)
		}
	}
	if !c.Resources.Limits.Cpu().Equal(resource.MustParse(p["CPU"])) || !c.Resources.Requests.Memory().Equal(resource.MustParse(p["MEMORY"])) {
		t.Fatalf("job.yaml: resources %v, want CPU and MEMORY", c.Resources)
	}
	if v := spec.Template.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != p["RESULTS_CLAIM"] {
		t.Fatal("job.yaml: the results volume is not the RESULTS_CLAIM claim")
	}

	prep := load[*batchv1.Job](t, "prepare-job.yaml", p)
	pc := prep.Spec.Template.Spec.Containers[0]
	if len(pc.Args) < 2 || pc.Args[0] != "prepare" || pc.Args[1] != p["SCENARIO"] || !slices.Contains(pc.Args, "--run-id="+p["RUN_ID"]) {
		t.Fatalf("prepare-job.yaml: args %q, want pgscale prepare of SCENARIO for RUN_ID", pc.Args)
	}
	// prepare and the shards must agree on the parameters the setup depends on.
	for _, a := range pc.Args[2:] {
		if strings.HasPrefix(a, "--workers=") || strings.HasPrefix(a, "--set=") || a == "--quick" {
			if !slices.Contains(c.Args, a) {
				t.Errorf("prepare-job.yaml passes %s, the shards do not", a)
			}
		}
	}

	pvc := load[*corev1.PersistentVolumeClaim](t, "results-pvc.yaml", p)
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) || pvc.Name != p["RESULTS_CLAIM"] {
		t.Fatalf("results-pvc.yaml: %+v, want a ReadWriteMany claim named RESULTS_CLAIM", pvc.Spec)
	}
	pod := load[*corev1.Pod](t, "fetch-pod.yaml", p)
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("fetch-pod.yaml: %d containers", len(pod.Spec.Containers))
	}
}

// TestStrictDecodingCatchesMistakes decodes mutated copies of the manifests: each mistake must
// fail, naming the field, where a lenient decoder would drop it and apply a different Job.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	t.Parallel()
	p := params(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelt field", "job.yaml", "completionMode:", "completionMod:", "completionMod"},
		{"field in the wrong place", "job.yaml", "      restartPolicy: Never\n", "      restartPolicy: Never\n      completionMode: Indexed\n",
			"spec.template.spec.completionMode"},
		{"wrong case", "job.yaml", "parallelism:", "Parallelism:", "Parallelism"},
		{"duplicate field", "merge-job.yaml", "  backoffLimit: 0\n", "  backoffLimit: 0\n  backoffLimit: 1\n", "backoffLimit"},
		{"misspelt container field", "prepare-job.yaml", "imagePullPolicy:", "imagePulPolicy:", "imagePulPolicy"},
		{"misspelt volume field", "fetch-pod.yaml", "claimName:", "claimname:", "claimname"},
		{"misspelt claim field", "results-pvc.yaml", "accessModes:", "accesModes:", "accesModes"},
		{"wrong type", "job.yaml", "completions: ${SHARDS}", "completions: ten", "completions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			data, err := File(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(c.old)) {
				t.Fatalf("%s has no %q to mutate", c.file, c.old)
			}
			bad, _, err := Render(bytes.Replace(data, []byte(c.old), []byte(c.new), 1), p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(bad)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s with %q for %q decoded: %v", c.file, c.new, c.old, err)
			}
			t.Logf("%s: %v", c.file, err)
		})
	}
}

func TestRenderNamesUndefinedParameters(t *testing.T) {
	t.Parallel()
	_, _, err := Render([]byte("name: ${RUN_ID}-${NOPE}\nargs: [\"$(JOB_COMPLETION_INDEX)\"]"), map[string]string{"RUN_ID": "r"})
	if err == nil || !strings.Contains(err.Error(), "undefined parameters NOPE") {
		t.Fatalf("err %v", err)
	}
	out, names, err := Render([]byte("name: ${RUN_ID} $(JOB_COMPLETION_INDEX)"), map[string]string{"RUN_ID": "r"})
	if err != nil || string(out) != "name: r $(JOB_COMPLETION_INDEX)" || fmt.Sprint(names) != "[RUN_ID]" {
		t.Fatalf("%q %v %v", out, names, err)
	}
}
