package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes manifests in docker/k8s are decoded strictly (unknown fields fail) into the
// subset of the Kubernetes API types they use, mirrored here with the API's field names, since
// k8s.io/api is not a dependency of pgscale. A typo in a field name fails the test.

type k8sMeta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sJob struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       struct {
		CompletionMode          string `yaml:"completionMode"`
		Completions             *int32 `yaml:"completions"`
		Parallelism             *int32 `yaml:"parallelism"`
		BackoffLimit            *int32 `yaml:"backoffLimit"`
		BackoffLimitPerIndex    *int32 `yaml:"backoffLimitPerIndex"`
		MaxFailedIndexes        *int32 `yaml:"maxFailedIndexes"`
		TTLSecondsAfterFinished *int32 `yaml:"ttlSecondsAfterFinished"`
		Template                struct {
			Metadata k8sMeta    `yaml:"metadata"`
			Spec     k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPod struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   k8sMeta    `yaml:"metadata"`
	Spec       k8sPodSpec `yaml:"spec"`
}

type k8sPVC struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       struct {
		AccessModes      []string     `yaml:"accessModes"`
		StorageClassName *string      `yaml:"storageClassName"`
		Resources        k8sResources `yaml:"resources"`
	} `yaml:"spec"`
}

type k8sPodSpec struct {
	RestartPolicy   string `yaml:"restartPolicy"`
	SecurityContext *struct {
		RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
		RunAsUser    *int64 `yaml:"runAsUser"`
		RunAsGroup   *int64 `yaml:"runAsGroup"`
		FSGroup      *int64 `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	TopologySpreadConstraints []struct {
		MaxSkew           int32  `yaml:"maxSkew"`
		TopologyKey       string `yaml:"topologyKey"`
		WhenUnsatisfiable string `yaml:"whenUnsatisfiable"`
		LabelSelector     *struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"labelSelector"`
	} `yaml:"topologySpreadConstraints"`
	Containers []k8sContainer `yaml:"containers"`
	Volumes    []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"persistentVolumeClaim"`
		EmptyDir *struct {
			Medium    string `yaml:"medium"`
			SizeLimit string `yaml:"sizeLimit"`
		} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type k8sContainer struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	ImagePullPolicy string   `yaml:"imagePullPolicy"`
	Command         []string `yaml:"command"`
	Args            []string `yaml:"args"`
	Env             []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources       k8sResources `yaml:"resources"`
	SecurityContext *struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type k8sResources struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

var k8sDir = filepath.Join("..", "..", "docker", "k8s")

// k8sParams reads docker/k8s/params.env, the example values of the manifests' parameters.
func k8sParams(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(k8sDir, "params.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	params := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("params.env: %q is not NAME=value", line)
		}
		params[k] = v
	}
	return params
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// render fills a manifest's ${NAME} parameters as envsubst does, failing on any that
// params.env does not define; used records which were.
func render(t *testing.T, name string, params map[string]string, used map[string]bool) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(k8sDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		key := string(placeholder.FindSubmatch(m)[1])
		v, ok := params[key]
		if !ok {
			t.Errorf("%s uses ${%s}, which params.env and the README do not define", name, key)
		}
		used[key] = true
		return []byte(v)
	})
}

func decodeStrict(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestK8sManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	params := k8sParams(t)
	used := map[string]bool{}

	var job k8sJob
	decodeStrict(t, "job.yaml", render(t, "job.yaml", params, used), &job)
	spec := job.Spec
	shards := params["SHARDS"]
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || spec.CompletionMode != "Indexed" {
		t.Fatalf("job.yaml: %s %s completionMode %q, want an Indexed batch/v1 Job", job.APIVersion, job.Kind, spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || fmt.Sprint(*spec.Completions) != shards || fmt.Sprint(*spec.Parallelism) != shards {
		t.Fatalf("job.yaml: completions and parallelism must both be SHARDS (%s)", shards)
	}
	if spec.BackoffLimitPerIndex == nil || *spec.BackoffLimitPerIndex != 0 || spec.Template.Spec.RestartPolicy != "Never" {
		t.Fatal("job.yaml: a failed shard must not be retried (backoffLimitPerIndex 0, restartPolicy Never)")
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("job.yaml: %d containers", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--shard=$(JOB_COMPLETION_INDEX)/"+shards) || !slices.Contains(c.Args, "--run-id="+params["RUN_ID"]) {
		t.Fatalf("job.yaml: args %q do not pass the completion index as --shard and the run id", c.Args)
	}
	if c.Resources.Limits["cpu"] != params["CPU"] || c.Resources.Requests["memory"] != params["MEMORY"] {
		t.Fatalf("job.yaml: resources %+v, want CPU and MEMORY", c.Resources)
	}
	if v := spec.Template.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != params["RESULTS_CLAIM"] {
		t.Fatal("job.yaml: the results volume is not the RESULTS_CLAIM claim")
	}

	// The container's arguments are a valid pgscale run: with the pod's values filled in they
	// get as far as connecting to the server (exit 1 on an unreachable one), not a usage error.
	results := t.TempDir()
	args := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", "3")
		a = strings.ReplaceAll(a, "$(PGSCALE_DSN)", "postgres://app@127.0.0.1:1/app?connect_timeout=2")
		a = strings.ReplaceAll(a, "/results/", results+"/")
		args = append(args, a)
	}
	code, _, stderr := runCLI(t, args...)
	if code != exitFailure || !strings.Contains(stderr, "127.0.0.1") {
		t.Fatalf("job.yaml's pgscale %s: exit %d, want %d (cannot connect)\n%s", strings.Join(args, " "), code, exitFailure, stderr)
	}
	if _, err := os.Stat(filepath.Join(results, params["RUN_ID"], "shard-3")); err != nil {
		t.Fatalf("shard 3 did not write under the results volume: %v", err)
	}

	var merge k8sJob
	decodeStrict(t, "merge-job.yaml", render(t, "merge-job.yaml", params, used), &merge)
	mc := merge.Spec.Template.Spec.Containers[0]
	margs := make([]string, 0, len(mc.Args))
	for _, a := range mc.Args {
		margs = append(margs, strings.ReplaceAll(a, "/results/", results+"/"))
	}
	// The merge finds the shard's directory and its failed result: of 10 shards it has one, and
	// that one failed, so the merged result is written and says it is incomplete.
	code, _, stderr = runCLI(t, margs...)
	if code != exitFailure || !strings.Contains(stderr, "the merged result is incomplete: shards 0, 1, 2, 4, 5, 6, 7, 8, 9 of 10 missing") ||
		!strings.Contains(stderr, "shard 3/10 failed") {
		t.Fatalf("merge-job.yaml's pgscale %s: exit %d\n%s", strings.Join(margs, " "), code, stderr)
	}

	var pvc k8sPVC
	decodeStrict(t, "results-pvc.yaml", render(t, "results-pvc.yaml", params, used), &pvc)
	if !slices.Contains(pvc.Spec.AccessModes, "ReadWriteMany") || pvc.Metadata.Name != params["RESULTS_CLAIM"] {
		t.Fatalf("results-pvc.yaml: %+v, want a ReadWriteMany claim named RESULTS_CLAIM", pvc)
	}
	var pod k8sPod
	decodeStrict(t, "fetch-pod.yaml", render(t, "fetch-pod.yaml", params, used), &pod)
	if pod.Kind != "Pod" || len(pod.Spec.Containers) != 1 {
		t.Fatalf("fetch-pod.yaml: %+v", pod)
	}
	for k := range params {
		if !used[k] {
			t.Errorf("params.env defines %s, which no manifest uses", k)
		}
	}
}

func TestK8sStrictDecodingCatchesATypo(t *testing.T) {
	t.Parallel()
	params := k8sParams(t)
	data := render(t, "job.yaml", params, map[string]bool{})
	bad := bytes.Replace(data, []byte("completionMode:"), []byte("completionMod:"), 1)
	var job k8sJob
	dec := yaml.NewDecoder(bytes.NewReader(bad))
	dec.KnownFields(true)
	if err := dec.Decode(&job); err == nil || !strings.Contains(err.Error(), "completionMod") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}
