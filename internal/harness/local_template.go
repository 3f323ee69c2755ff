package harness

// The initdb template: one data directory per PostgreSQL version and OS user, built once under a
// file lock and copied for every run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// localInitdb creates a data directory: superuser postgres, trust on the Unix socket only and
// scram-sha-256 on TCP (each run writes its own pg_hba.conf the same way, and sets a password), UTF8 with the C locale so results and PostgreSQL's messages
// do not depend on the machine's locale, and no fsync of the new files (the server fsyncs its
// own writes as usual: fsync stays on).
func localInitdb(ctx context.Context, bin PGBinaries, acct localAccount, dataDir string) error {
	cmd := exec.CommandContext(ctx, bin.Path("initdb"), "-D", dataDir, "-U", localSuperuser,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = filepath.Dir(dataDir)
	cmd.Env = localEnv()
	cmd.SysProcAttr = localSysProcAttr(acct)
	// On cancel, kill initdb's process group: the postgres it runs in bootstrap mode too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := localStartProcess(cmd); err != nil {
		return fmt.Errorf("local target: initdb: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("local target: initdb: %w", context.Cause(ctx))
		}
		return fmt.Errorf("local target: initdb: %w; its output ends:\n%s", err, localLastLines(out.String(), 6))
	}
	return nil
}

// localTemplate returns the PGDATA of the cached initdb'd template for this installation and
// account (os.TempDir()/pgscale-template-<major>-<uid>), building it first when there is none.
// Copying it is about twice as fast as initdb. It returns "" without error when a template
// exists that was built by another installation or is not safely ours: the caller runs initdb.
//
// Builders take an flock on pgscale-template-<major>-<uid>.lock (released by the kernel when a
// builder dies, so it cannot go stale), build in a directory of their own and rename it into
// place, so a reader never sees half a template.
func localTemplate(ctx context.Context, bin PGBinaries, acct localAccount, parent string) (string, error) {
	final := filepath.Join(parent, fmt.Sprintf("%s%d-%d", localTemplatePrefix, bin.Major, acct.uid()))
	stamp := bin.Dir + "\n"
	if ok, exists := localTemplateUsable(final, stamp, acct.uid()); exists {
		return localUsablePath(final, ok), nil
	}
	unlock, err := localLock(ctx, final+".lock", localTemplateLockWait)
	if err != nil {
		return "", fmt.Errorf("local target: template: %w", err)
	}
	defer unlock()
	if ok, exists := localTemplateUsable(final, stamp, acct.uid()); exists { // built while we waited
		return localUsablePath(final, ok), nil
	}
	if err := localBuildTemplate(ctx, bin, acct, final, stamp); err != nil {
		return "", err
	}
	ok, _ := localTemplateUsable(final, stamp, acct.uid())
	return localUsablePath(final, ok), nil
}

// localBuildTemplate runs initdb into a directory of its own and renames it to final.
func localBuildTemplate(ctx context.Context, bin PGBinaries, acct localAccount, final, stamp string) error {
	// The PID in the name lets Clean remove builds of runs that were killed.
	tmp, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	defer func() { _ = localRemoveAll(tmp) }() // gone after a successful rename
	if err := acct.chown(tmp); err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	if err := localInitdb(ctx, bin, acct, filepath.Join(tmp, localDataSubdir)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, localTemplateStamp), []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("local target: template: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil && !localExists(final) {
		return fmt.Errorf("local target: template: %w", err)
	}
	return nil
}

// localTemplateLockWait bounds waiting for another process's template build (an initdb: about a
// second, several on a loaded machine). After that, or if the lock cannot be had at all (someone
// else holds a file of that name), the start runs initdb itself.
const localTemplateLockWait = time.Minute

// localLock takes an exclusive flock on path, waiting up to wait or until ctx is done, and
// returns its release.
func localLock(ctx context.Context, path string, wait time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, errors.Join(err, ctx.Err()))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// localUsablePath is the template's PGDATA when usable, else "".
func localUsablePath(dir string, usable bool) string {
	if !usable {
		return ""
	}
	return filepath.Join(dir, localDataSubdir)
}

// localTemplateUsable tells whether dir exists and, if so, whether it is a template built by this
// installation (its stamp) that only uid can have written (a real directory owned by uid, closed to
// others: anyone could create a name in the shared temporary directory, and a planted
// postgresql.conf would run commands as the server's user).
func localTemplateUsable(dir, stamp string, uid int) (usable, exists bool) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || localFileOwner(fi) != uid {
		return false, true
	}
	got, err := os.ReadFile(filepath.Join(dir, localTemplateStamp))
	return err == nil && string(got) == stamp, true
}
