package harness

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cleanTestDeadPID returns the PID of a process that has exited.
func cleanTestDeadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// cleanTestOrphan makes a run directory look left behind by a killed pgscale.
func cleanTestOrphan(t *testing.T, dir string) {
	t.Helper()
	b, err := json.Marshal(localOwner{PID: cleanTestDeadPID(t), StartedAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, localOwnerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cleanTestRemoved tells whether the report lists name as removed.
func cleanTestRemoved(r CleanReport, name string) bool {
	for _, item := range r.Removed {
		if item.Name == name {
			return true
		}
	}
	return false
}

func TestCleanReapsOrphanedServer(t *testing.T) {
	t.Parallel()
	p := localTestProvider(t)
	p.tempDir = localTestTempDir(t)
	live := startLocalTest(t, p, nil)
	orphan := startLocalTest(t, p, nil)
	cleanTestOrphan(t, orphan.Dir())

	var out strings.Builder
	report, err := cleanIn(context.Background(), &out, false, cleanScope{tempDir: p.tempDir})
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	t.Logf("Clean said:\n%s", out.String())

	if !localTestGone(orphan.PID(), 5*time.Second) {
		t.Errorf("orphaned postmaster %d still runs", orphan.PID())
	}
	if localExists(orphan.Dir()) {
		t.Errorf("orphaned run directory %s remains", orphan.Dir())
	}
	if !cleanTestRemoved(report, orphan.Dir()) || !cleanTestRemoved(report, strconv.Itoa(orphan.PID())) {
		t.Errorf("report %+v does not list the orphan's directory and server", report.Removed)
	}
	for _, want := range []string{
		"stopped local server: postgres pid " + strconv.Itoa(orphan.PID()),
		"removed local data directory " + orphan.Dir() + " (pgscale pid ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	if !localExists(live.Dir()) {
		t.Fatalf("Clean removed the live run directory %s", live.Dir())
	}
	if got := localTestQuery(t, live, "SELECT 1"); got != "1" {
		t.Errorf("live server answered %s", got)
	}
	if cleanTestRemoved(report, live.Dir()) {
		t.Errorf("report lists the live run as removed")
	}
}

func TestCleanDryRun(t *testing.T) {
	t.Parallel()
	p := localTestProvider(t)
	p.tempDir = localTestTempDir(t)
	tg := startLocalTest(t, p, nil)
	cleanTestOrphan(t, tg.Dir())

	var out strings.Builder
	report, err := reapLocalRuns(context.Background(), &out, true, cleanScope{tempDir: p.tempDir})
	if err != nil {
		t.Fatal(err)
	}
	want := "would stop local server: postgres pid " + strconv.Itoa(tg.PID()) + " on " + tg.DataDir() + " (pgscale pid " +
		"\nwould remove local data directory " + tg.Dir()
	if !strings.Contains(out.String(), strings.Split(want, "\n")[0]) || !strings.Contains(out.String(), strings.Split(want, "\n")[1]) {
		t.Errorf("output:\n%s\nwant lines starting:\n%s", out.String(), want)
	}
	if len(report.Removed) != 2 {
		t.Errorf("report lists %d items, want 2: %+v", len(report.Removed), report.Removed)
	}
	if got := localTestQuery(t, tg, "SELECT 1"); got != "1" || !localExists(tg.Dir()) {
		t.Errorf("a dry run touched the server or its directory")
	}
}

func TestCleanMarkerlessDirectory(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, localDirPrefix+"x-1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	report, err := reapLocalRuns(context.Background(), &strings.Builder{}, false, cleanScope{tempDir: parent})
	if err != nil || len(report.Removed) != 0 || !localExists(dir) {
		t.Fatalf("a fresh directory without marker (it may be being created): removed %+v, %v", report.Removed, err)
	}

	old := time.Now().Add(-2 * cleanMarkerGrace)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	report, err = reapLocalRuns(context.Background(), &out, false, cleanScope{tempDir: parent})
	if err != nil || !cleanTestRemoved(report, dir) || localExists(dir) {
		t.Errorf("an old directory without marker: removed %+v, %v", report.Removed, err)
	}
	if want := "removed local data directory " + dir + " (no owner marker"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestCleanSparesUnrelatedProcess(t *testing.T) {
	t.Parallel()
	// A postmaster.pid naming a live process that is not that directory's postgres (a reused
	// PID, or a planted file) must not get that process killed.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })

	parent := t.TempDir()
	dir := filepath.Join(parent, localDirPrefix+"planted-1")
	if err := os.MkdirAll(filepath.Join(dir, localDataSubdir), 0o700); err != nil {
		t.Fatal(err)
	}
	cleanTestOrphan(t, dir)
	pidFile := strconv.Itoa(sleeper.Process.Pid) + "\n" + filepath.Join(dir, localDataSubdir) + "\n"
	if err := os.WriteFile(filepath.Join(dir, localDataSubdir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}

	report, err := reapLocalRuns(context.Background(), &strings.Builder{}, false, cleanScope{tempDir: parent})
	if err != nil {
		t.Fatal(err)
	}
	if !cleanProcessAlive(sleeper.Process.Pid, "") {
		t.Error("Clean killed a process that was not the directory's postmaster")
	}
	if len(report.Removed) != 1 || localExists(dir) {
		t.Errorf("removed %+v, want only the directory", report.Removed)
	}
}

func TestCleanTemplateBuilds(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dead := filepath.Join(parent, localTemplatePrefix+"15-101.tmp-"+strconv.Itoa(cleanTestDeadPID(t))+"-123")
	mine := filepath.Join(parent, localTemplatePrefix+"15-101.tmp-"+strconv.Itoa(os.Getpid())+"-456")
	done := filepath.Join(parent, localTemplatePrefix+"15-101")
	for _, dir := range []string{dead, mine, done} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	var out strings.Builder
	report, err := reapTemplateBuilds(context.Background(), &out, false, cleanScope{tempDir: parent})
	if err != nil {
		t.Fatal(err)
	}
	if localExists(dead) || !cleanTestRemoved(report, dead) {
		t.Errorf("the dead build %s was not removed: %+v", dead, report)
	}
	if !localExists(mine) || !localExists(done) {
		t.Errorf("a live build or a finished template was removed")
	}
	if want := "removed unfinished template build " + dead; !strings.Contains(out.String(), want) {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestCleanOwnerMarker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := writeLocalOwner(dir, "run-1"); err != nil {
		t.Fatal(err)
	}
	owner, err := readLocalOwner(dir)
	if err != nil {
		t.Fatal(err)
	}
	if owner.PID != os.Getpid() || owner.RunID != "run-1" || !cleanProcessAlive(owner.PID, owner.ProcStart) {
		t.Errorf("marker %+v does not name this live process", owner)
	}
	if cleanProcessAlive(owner.PID, owner.ProcStart+"1") {
		t.Error("a process with another start time (a reused PID) counts as the owner")
	}
}

func TestCleanDryRunOfThisMachine(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if _, err := Clean(context.Background(), &out, true); err != nil {
		t.Errorf("Clean: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "would ") {
			t.Errorf("a dry run said %q", line)
		}
	}
}
