package runner

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgscale/pgscale/result"
)

// Version is pgscale's version, set at build time with -ldflags "-X .../runner.Version=v0.1.0".
var Version = "dev"

// Commit is the VCS revision, set at build time by make (-X .../runner.Commit=...) for builds
// where Go stamps none (-buildvcs=false); otherwise it is read from the build info.
var Commit = ""

// BuildInfo identifies this binary.
func BuildInfo() result.Build {
	b := result.Build{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		// go install module@version stamps the module version; a go build in a checkout says
		// "(devel)" and the VCS revision below identifies it.
		if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && Commit == "" {
				b.Commit = s.Value
			}
			if s.Key == "vcs.modified" && s.Value == "true" && b.Commit != "" && Commit == "" {
				b.Commit += "-dirty"
			}
		}
	}
	return b
}

// HostInfo describes the machine the load generator runs on.
func HostInfo() result.Host {
	h := result.Host{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemoryMB = int64(si.Totalram) * int64(si.Unit) / (1 << 20)
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}
