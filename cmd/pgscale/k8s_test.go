package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/pgscale/pgscale/docker/k8s"
)

// The Kubernetes manifests in docker/k8s are decoded strictly into the Kubernetes API types by
// package k8s (its tests check their fields, and that a typo fails). These tests run the pods'
// own pgscale arguments through the CLI: they must be valid commands.

// podArgs is the rendered Job's container arguments with the pod's values filled in: index as
// JOB_COMPLETION_INDEX, an unreachable server as the DSN, results under the results volume.
func podArgs(t *testing.T, name string, params map[string]string, index, results string) []string {
	t.Helper()
	obj, err := k8s.Load(name, params)
	if err != nil {
		t.Fatal(err)
	}
	job, ok := obj.(*batchv1.Job)
	if !ok || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %T, want a Job with one container", name, obj)
	}
	var args []string
	for _, a := range job.Spec.Template.Spec.Containers[0].Args {
		a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", index)
		a = strings.ReplaceAll(a, "/results/", results+"/")
		args = append(args, a)
	}
	return args
}

func TestK8sPodArgumentsAreValidCommands(t *testing.T) {
	// The pods read the DSN from $PGSCALE_DSN (a Secret), so no password is in their arguments.
	t.Setenv("PGSCALE_DSN", "postgres://app@127.0.0.1:1/app?connect_timeout=2")
	params, err := k8s.Params()
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()

	// prepare and the shards get as far as connecting to the server (exit 1 on an unreachable
	// one), not a usage error.
	for _, name := range []string{"prepare-job.yaml", "job.yaml"} {
		args := podArgs(t, name, params, "3", results)
		code, _, stderr := runCLI(t, args...)
		if code != exitFailure || !strings.Contains(stderr, "127.0.0.1") {
			t.Fatalf("%s's pgscale %s: exit %d, want %d (cannot connect)\n%s", name, strings.Join(args, " "), code, exitFailure, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(results, params["RUN_ID"], "shard-3", "result.json")); err != nil {
		t.Fatalf("shard 3 did not write its result under the results volume: %v", err)
	}

	// The merge finds the shard's directory and its failed result: of 10 shards it has one, and
	// that one failed, so the merged result is written and says it is incomplete.
	margs := podArgs(t, "merge-job.yaml", params, "", results)
	code, _, stderr := runCLI(t, margs...)
	if code != exitFailure || !strings.Contains(stderr, "the merged result is incomplete: shards 0, 1, 2, 4, 5, 6, 7, 8, 9 of 10 missing") ||
		!strings.Contains(stderr, "shard 3/10 failed") {
		t.Fatalf("merge-job.yaml's pgscale %s: exit %d\n%s", strings.Join(margs, " "), code, stderr)
	}
}
