package harness

// Starting the server process as the server account, from one locked OS thread, so that the
// parent-death signal follows the thread that forked it.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// localEnv is the environment of initdb and postgres: pgscale's, without locale variables (the C
// locale keeps PostgreSQL's messages in English, which start errors are matched against) and
// without PG* variables (libpq defaults that could point the server elsewhere).
func localEnv() []string {
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") || strings.HasPrefix(name, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// localSysProcAttr makes a child die with pgscale (SIGQUIT: PostgreSQL's immediate shutdown; initdb
// removes what it made), keeps it out of the terminal's process group, and runs it as acct.
//
// Pdeathsig exists on Linux only. It is set by name so that the package still builds elsewhere
// (macOS), where a server outlives a SIGKILLed pgscale and `pgscale clean` reaps it; a
// local_linux.go holding this one field would say the same more plainly.
func localSysProcAttr(acct localAccount) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Credential: acct.credential()}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() {
		f.Set(reflect.ValueOf(syscall.SIGQUIT))
	}
	return attr
}

// localSetPdeathsig changes the signal a child gets when pgscale dies, where the OS has one.
func localSetPdeathsig(attr *syscall.SysProcAttr, sig syscall.Signal) {
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() {
		f.Set(reflect.ValueOf(sig))
	}
}

// localHasPdeathsig tells whether children die with pgscale on this OS.
func localHasPdeathsig() bool {
	_, ok := reflect.TypeFor[syscall.SysProcAttr]().FieldByName("Pdeathsig")
	return ok
}

// localForker starts child processes from one goroutine locked to its OS thread for the life of
// the process. Linux sends the parent-death signal when the thread that forked the child exits,
// not the process (go.dev/issue/27505), and Go ends a thread when a goroutine exits locked to it;
// forking from a thread that never exits makes the signal mean "pgscale died".
type localForker struct {
	once sync.Once
	reqs chan localForkRequest
}

type localForkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// localSpawner is the process's one forking thread.
var localSpawner localForker

// localStartProcess starts cmd from the forking thread.
func localStartProcess(cmd *exec.Cmd) error {
	return localSpawner.start(cmd)
}

func (f *localForker) start(cmd *exec.Cmd) error {
	f.once.Do(func() {
		f.reqs = make(chan localForkRequest)
		go f.loop()
	})
	done := make(chan error, 1)
	f.reqs <- localForkRequest{cmd: cmd, done: done}
	return <-done
}

func (f *localForker) loop() {
	runtime.LockOSThread() // never unlocked: the thread lives as long as the process
	for req := range f.reqs {
		req.done <- req.cmd.Start()
	}
}

// localAccount is the OS account that runs initdb and postgres: pgscale's own, or, when pgscale
// runs as root (PostgreSQL refuses to), the postgres user.
type localAccount struct {
	switchUser bool
	name       string
	uidNum     int
	gidNum     int
}

// localRunAs picks the account: pgscale's own unless it is root.
func localRunAs() (localAccount, error) {
	if os.Geteuid() != 0 {
		return localAccount{uidNum: os.Geteuid(), gidNum: os.Getegid()}, nil
	}
	u, err := user.Lookup(localOSUser)
	if err != nil {
		return localAccount{}, fmt.Errorf("local target: PostgreSQL refuses to run as root and there is no %q "+
			"OS user to run it as (%v); create one (useradd --system --create-home postgres), "+
			"run pgscale as another user, or use --target docker", localOSUser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return localAccount{}, fmt.Errorf("local target: OS user %s: %w", localOSUser, err)
	}
	if uid == 0 {
		return localAccount{}, fmt.Errorf("local target: OS user %s has uid 0, and PostgreSQL refuses to run as root", localOSUser)
	}
	return localAccount{switchUser: true, name: localOSUser, uidNum: uid, gidNum: gid}, nil
}

// uid is the account's user ID.
func (a localAccount) uid() int { return a.uidNum }

// displayName names the account for a result.
func (a localAccount) displayName() string {
	if a.switchUser {
		return a.name
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(a.uidNum)
}

// credential is the child's credential, nil to keep pgscale's.
func (a localAccount) credential() *syscall.Credential {
	if !a.switchUser {
		return nil
	}
	return &syscall.Credential{Uid: uint32(a.uidNum), Gid: uint32(a.gidNum)}
}

// chown gives path to the account when it is not pgscale's own.
func (a localAccount) chown(path string) error {
	if !a.switchUser {
		return nil
	}
	return os.Chown(path, a.uidNum, a.gidNum)
}

// lchown is chown without following a symbolic link.
func (a localAccount) lchown(path string) error {
	if !a.switchUser {
		return nil
	}
	return os.Lchown(path, a.uidNum, a.gidNum)
}

// checkReachable tells whether the account can enter dir, when it is not pgscale's own: root's
// TMPDIR may be private to root. (The child gets no supplementary groups, so only the owner,
// the primary group and others count.)
func (a localAccount) checkReachable(dir string) error {
	if !a.switchUser {
		return nil
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("local target: %w", err)
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("local target: %w", err)
		}
		bit := fs.FileMode(0o001)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == a.uidNum {
			bit = 0o100
		} else if ok && int(st.Gid) == a.gidNum {
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("local target: the %s OS user that runs the server cannot enter %s (mode %v); "+
				"set TMPDIR to a folder it can reach, such as /tmp", a.name, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// localFileOwner is the user ID owning a file, or -1 when the system does not say.
func localFileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
