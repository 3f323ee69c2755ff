package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgscale/pgscale/internal/usage"
)

// localTestProvider returns a provider, skipping the test when this machine has no PostgreSQL
// server binaries.
func localTestProvider(t testing.TB) *LocalProvider {
	t.Helper()
	if _, err := FindPGBinaries(context.Background()); err != nil {
		if errors.Is(err, ErrNoLocalPostgres) {
			require(t, "PostgreSQL", err)
		}
		t.Fatal(err)
	}
	return &LocalProvider{}
}

// localTestTempDir makes a private directory for run and template directories, open to the
// postgres OS user when tests run as root, and removes it when the test ends.
func localTestTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgscale-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startLocalTest starts a target that is closed when the test ends, even when it fails.
func startLocalTest(t testing.TB, p *LocalProvider, settings map[string]string) *LocalTarget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := p.StartLocal(ctx, Spec{Kind: KindLocal, RunID: localSafeName(t.Name()), Settings: settings})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := tg.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Logf("started in %v (data directory from %s in %v, server to first query in %v)",
		tg.Timings().Total, tg.Detail()["data_from"], tg.Timings().DataDir, tg.Timings().Server)
	return tg
}

// localTestQuery runs a one-value query on the target.
func localTestQuery(t testing.TB, tg Target, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, tg.AdminDSN())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// localTestGone waits up to d for process pid to be gone.
func localTestGone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !cleanProcessAlive(pid, "") {
			return true
		}
	}
	return false
}

func TestLocalStartWithSettings(t *testing.T) {
	t.Parallel()
	p := localTestProvider(t)
	tg := startLocalTest(t, p, map[string]string{"max_connections": "37", "work_mem": "8MB"})
	if got := localTestQuery(t, tg, "SHOW work_mem"); got != "8MB" {
		t.Errorf("work_mem = %s, want 8MB", got)
	}

	info, err := tg.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxConnections != 37 {
		t.Errorf("MaxConnections = %d, want 37", info.MaxConnections)
	}
	for name, want := range map[string]string{"max_connections": "37", "fsync": "on"} {
		if got := info.Settings[name]; got != want {
			t.Errorf("Settings[%s] = %q, want %q (all: %v)", name, got, want, info.Settings)
		}
	}
	for _, noise := range []string{"port", "listen_addresses", "unix_socket_directories", "application_name"} {
		if v, ok := info.Settings[noise]; ok {
			t.Errorf("Settings has %s=%q, want it left out", noise, v)
		}
	}
	major, _ := strconv.Atoi(tg.Detail()["major"])
	if info.VersionNum/10000 != major || !strings.HasPrefix(info.Version, strconv.Itoa(major)+".") {
		t.Errorf("Version %q (%d), want major %d", info.Version, info.VersionNum, major)
	}
	if pgid, err := syscall.Getpgid(tg.PID()); err != nil || pgid != tg.PID() {
		t.Errorf("postmaster's process group = %d, %v; want its own (%d), out of the terminal's", pgid, err, tg.PID())
	}
	if got := localTestQuery(t, tg, "SHOW fsync"); got != "on" {
		t.Errorf("fsync = %s, want on", got)
	}
	if want := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", tg.password, tg.Port()); tg.DSN() != want || tg.AdminDSN() != want || len(tg.password) < 32 {
		t.Errorf("DSN %q, AdminDSN %q, want %q", tg.DSN(), tg.AdminDSN(), want)
	}
	if tg.Kind() != KindLocal || tg.Schema() != "public" || !tg.CanChangeSettings() {
		t.Errorf("Kind %q, Schema %q, CanChangeSettings %v", tg.Kind(), tg.Schema(), tg.CanChangeSettings())
	}
	for _, key := range []string{"bindir", "version", "major", "data_dir", "port"} {
		if tg.Detail()[key] == "" {
			t.Errorf("Detail()[%q] is empty: %v", key, tg.Detail())
		}
	}
}

func TestLocalCloseTwice(t *testing.T) {
	t.Parallel()
	p := localTestProvider(t)
	tg := startLocalTest(t, p, nil)
	pid, dir := tg.PID(), tg.Dir()

	for i := 0; i < 2; i++ {
		if err := tg.Close(context.Background()); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("run directory %s after Close: %v, want it gone", dir, err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postgres pid %d after Close: kill 0 = %v, want ESRCH", pid, err)
	}
}

func TestLocalCloseConcurrently(t *testing.T) {
	t.Parallel()
	p := localTestProvider(t)
	tg := startLocalTest(t, p, nil)

	errs := make(chan error, 4)
	for i := 0; i < cap(errs); i++ {
		go func() { errs <- tg.Close(context.Background()) }()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if localExists(tg.Dir()) {
		t.Errorf("run directory %s remains", tg.Dir())
	}
}

func TestLocalRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"bad value", map[string]string{"max_connections": "lots"}, `invalid value for parameter "max_connections": "lots"`},
		{"out of range", map[string]string{"max_connections": "0"}, `0 is outside the valid range for parameter "max_connections" (1 .. 262143)`},
		{"unknown name", map[string]string{"no_such_setting": "1"}, `unrecognized configuration parameter "no_such_setting"`},
		{"bad enum", map[string]string{"wal_level": "most"}, `invalid value for parameter "wal_level": "most" Available values: minimal, replica, logical.`},
		{"managed", map[string]string{"port": "5432"}, "--pg-setting port: the local target sets port itself"},
		{"fsync off", map[string]string{"fsync": "off"}, "--pg-setting fsync=off: refused"},
		{"bad name", map[string]string{"a b": "1"}, `--pg-setting "a b": a setting name has only letters`},
	}
	p := localTestProvider(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			runID := fmt.Sprintf("bad-%d-%d", os.Getpid(), i)
			tg, err := p.Start(ctx, Spec{Kind: KindLocal, RunID: runID, Settings: tt.settings})
			if err == nil {
				_ = tg.Close(ctx)
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if !usage.Is(err) {
				t.Errorf("error %q is not a usage error", err)
			}
			if left, _ := filepath.Glob(filepath.Join(os.TempDir(), localDirPrefix+runID+"-*")); len(left) > 0 {
				t.Errorf("the failed start left %v", left)
			}
		})
	}
}

// TestLocalRejectsShapeAndBadPooler: the local target cannot limit CPU or memory; it does start a
// PgBouncer (pooler_test.go), but only for a valid pooler request.
func TestLocalRejectsShapeAndBadPooler(t *testing.T) {
	t.Parallel()
	err := localCheckSpec(Spec{Shape: "2cpu-4gb", Pooler: &PoolerSpec{Kind: "pgbouncer", Mode: "transaction", Size: 0}})
	if !usage.Is(err) || !strings.Contains(err.Error(), "--shape 2cpu-4gb") || !strings.Contains(err.Error(), "--pooler-size 0") {
		t.Errorf("localCheckSpec = %v, want usage errors for both shape and pooler size", err)
	}
	if err := localCheckSpec(Spec{Pooler: &PoolerSpec{Kind: "pgbouncer", Mode: "session", Size: 5}}); err != nil {
		t.Errorf("localCheckSpec refuses a valid pooler: %v", err)
	}
}

func TestLocalTemplateAndInitdbPaths(t *testing.T) {
	t.Parallel()
	for _, noTemplate := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoTemplate=%v", noTemplate), func(t *testing.T) {
			t.Parallel()
			p := localTestProvider(t)
			p.NoTemplate = noTemplate
			tg := startLocalTest(t, p, nil)
			want := map[bool]string{false: "template", true: "initdb"}[noTemplate]
			if got := tg.Detail()["data_from"]; got != want {
				t.Errorf("data_from = %q, want %q", got, want)
			}
			if got := localTestQuery(t, tg, "SELECT count(*) FROM pg_database"); got != "3" {
				t.Errorf("databases: %s, want 3", got)
			}
		})
	}
}

func TestLocalTemplateUsable(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tmpl")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, localTemplateStamp), []byte("/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid := os.Geteuid()
	check := func(stamp string, uid int, want bool) {
		t.Helper()
		if got, exists := localTemplateUsable(dir, stamp, uid); got != want || !exists {
			t.Errorf("usable = %v (exists %v), want %v", got, exists, want)
		}
	}
	check("/bin\n", uid, true)
	check("/other\n", uid, false)
	check("/bin\n", uid+1, false)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check("/bin\n", uid, false)
	if _, exists := localTemplateUsable(dir+"-missing", "/bin\n", uid); exists {
		t.Error("a missing template exists")
	}
}

func TestLocalStartLogParsing(t *testing.T) {
	t.Parallel()
	log := "2025-01-01 10:00:00.000 UTC [42] LOG:  starting\n" +
		"2025-01-01 10:00:00.001 UTC [42] FATAL:  invalid value for parameter \"wal_level\": \"most\"\n" +
		"2025-01-01 10:00:00.001 UTC [42] HINT:  Available values: minimal, replica, logical.\n" +
		"2025-01-01 10:00:00.002 UTC [42] LOG:  database system is shut down\n"
	want := `invalid value for parameter "wal_level": "most" Available values: minimal, replica, logical.`
	if got := localRejectedSetting(log); got != want {
		t.Errorf("localRejectedSetting = %q, want %q", got, want)
	}
	if got := localRejectedSetting("FATAL:  could not create shared memory segment\n"); got != "" {
		t.Errorf("localRejectedSetting of a non-setting failure = %q, want empty", got)
	}
	taken := "2025-01-01 10:00:00.000 UTC [42] LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n" +
		"2025-01-01 10:00:00.000 UTC [42] FATAL:  could not create any TCP/IP sockets\n"
	if !localPortTaken(taken) || localPortTaken(log) {
		t.Error("localPortTaken does not tell a taken port from another failure")
	}
}

func TestLocalBinariesFromEnv(t *testing.T) {
	// Not parallel: it sets the environment.
	bin, err := FindPGBinaries(context.Background())
	if errors.Is(err, ErrNoLocalPostgres) {
		require(t, "PostgreSQL", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if bin.Major < 10 || bin.Version == "" {
		t.Errorf("found %+v, want a version", bin)
	}

	t.Setenv(EnvPGBinDir, bin.Dir)
	got, err := FindPGBinaries(context.Background())
	if err != nil || got.Dir != bin.Dir || got.Source != EnvPGBinDir {
		t.Errorf("with %s=%s: %+v, %v", EnvPGBinDir, bin.Dir, got, err)
	}

	empty := t.TempDir()
	t.Setenv(EnvPGBinDir, empty)
	_, err = FindPGBinaries(context.Background())
	if want := EnvPGBinDir + "=" + empty + ": no initdb there"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("with an empty %s: %v, want %q", EnvPGBinDir, err, want)
	}
	if err := (&LocalProvider{}).Available(context.Background()); err == nil {
		t.Error("Available with a bad bindir: nil error")
	}
}

// localHelperEnv makes TestLocalHelperProcess act as the child of TestLocalServerDiesWithParent.
const localHelperEnv = "PGSCALE_TEST_LOCAL_HELPER"

// TestLocalHelperProcess is not a test: TestLocalServerDiesWithParent runs the test binary with
// it as a child process that starts a local target and waits to be killed.
func TestLocalHelperProcess(t *testing.T) {
	if os.Getenv(localHelperEnv) != "start-and-wait" {
		t.Skip("helper process for TestLocalServerDiesWithParent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := (&LocalProvider{}).StartLocal(ctx, Spec{Kind: KindLocal, RunID: "parent-death"})
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("READY %d %s\n", tg.PID(), tg.Dir())
	time.Sleep(time.Minute) // the parent kills this process well before
	_ = tg.Close(context.Background())
	os.Exit(1)
}

func TestLocalServerDiesWithParent(t *testing.T) {
	t.Parallel()
	localTestProvider(t)
	if !localHasPdeathsig() {
		t.Skip("no parent-death signal on this OS: a server outlives a killed pgscale until `pgscale clean`")
	}
	tempDir := localTestTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLocalHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), localHelperEnv+"=start-and-wait", "TMPDIR="+tempDir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	pid, dir := localTestReadReady(t, stdout, &stderr)
	t.Cleanup(func() { // whatever happens, leave nothing behind
		if cleanLivePostmaster(filepath.Join(dir, localDataSubdir)) > 0 {
			_ = cleanStopProcess(pid)
		}
		_ = localRemoveAll(dir)
	})
	if !cleanProcessAlive(pid, "") {
		t.Fatalf("postmaster %d is not running before its parent is killed", pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !localTestGone(pid, 5*time.Second) {
		t.Fatalf("postmaster %d still runs 5 s after its parent was killed", pid)
	}

	// What the killed run left, pgscale clean removes.
	var out strings.Builder
	if _, err := cleanIn(ctx, &out, false, cleanScope{tempDir: tempDir}); err != nil {
		t.Errorf("Clean: %v", err)
	}
	if localExists(dir) {
		t.Errorf("Clean left %s; it said:\n%s", dir, out.String())
	}
}

// localTestReadReady reads the helper's "READY <pid> <dir>" line.
func localTestReadReady(t *testing.T, stdout io.Reader, stderr fmt.Stringer) (int, string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("helper exited without starting a target; stderr:\n%s", stderr)
			}
			var pid int
			var dir string
			if n, _ := fmt.Sscanf(line, "READY %d %s", &pid, &dir); n == 2 {
				return pid, dir
			}
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("helper: %s", line)
			}
		case <-timeout:
			t.Fatalf("helper did not start a target within 30 s; stderr:\n%s", stderr)
		}
	}
}

// BenchmarkLocalStart measures a start (to the first answered query) and a Close, from the
// cached template and from initdb; time_to_query_ms is the start alone.
func BenchmarkLocalStart(b *testing.B) {
	for _, noTemplate := range []bool{false, true} {
		b.Run(map[bool]string{false: "template", true: "initdb"}[noTemplate], func(b *testing.B) {
			p := localTestProvider(b)
			p.NoTemplate = noTemplate
			var total, dataDir time.Duration
			n := 0
			for b.Loop() {
				tg, err := p.StartLocal(context.Background(), Spec{Kind: KindLocal, RunID: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				total += tg.Timings().Total
				dataDir += tg.Timings().DataDir
				n++
				if err := tg.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "time_to_query_ms")
			b.ReportMetric(float64(dataDir.Milliseconds())/float64(n), "data_dir_ms")
		})
	}
}
