// Package harness starts and watches the PostgreSQL server a run measures: providers for the
// docker, local and dsn targets behind one Target interface, server settings, and the sampler
// that reads pg_stat_activity, pg_locks, pg_stat_database and pg_stat_wal once a second (and what
// active sessions wait on 10 times a second), with the server's and the load generator's CPU.
//
// The harness never knows which scenario runs: it is given a Spec and hands back a Target.
package harness

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/usage"
)

// Target kinds.
const (
	KindAuto   = "auto"
	KindDocker = "docker"
	KindLocal  = "local"
	KindDSN    = "dsn"
)

// Spec is what a run asks of its server.
type Spec struct {
	Kind string
	// RunID names the run; targets use it in labels, directory and schema names.
	RunID string
	// Settings are server settings (postgresql.conf names) to start the server with. A dsn target
	// cannot change them: it reads and records them.
	Settings map[string]string
	// DSN is the existing server of a dsn target (URL or key=value form).
	DSN string
	// Image and Shape are for the docker target: the image to run (default DefaultImage, or
	// $PGSCALE_IMAGE) and the CPU and memory limits (ParseShape).
	Image string
	Shape string
	// Pooler puts a connection pooler in front of the server (docker and local targets).
	Pooler *PoolerSpec
	// Latency, when more than 0, is round-trip time added between the load and the server by an
	// in-process proxy (StartTarget); half of it goes each way.
	Latency time.Duration
	// InPlace makes a dsn target work in the database as it is: it creates no schema of its
	// own and drops nothing (scripts run against a staging database in the DSN's search path).
	InPlace bool
}

// PoolerSpec asks for a connection pooler in front of the server.
type PoolerSpec struct {
	Kind string // pgbouncer
	Mode string // transaction | session
	Size int
}

// Target is a running server that a run loads. Close is idempotent and always leaves nothing
// running that the target started.
type Target interface {
	Kind() string
	// DSN is where the load goes (it may be a pooler).
	DSN() string
	// AdminDSN connects directly to the server, for setup and sampling.
	AdminDSN() string
	// Schema is the schema a scenario works in; its objects go there and nowhere else.
	Schema() string
	// Info reads the server's version and non-default settings.
	Info(ctx context.Context) (ServerInfo, error)
	// Detail describes the target for the result's environment (image, shape, path to the server).
	Detail() map[string]string
	// CanChangeSettings tells whether a new Start with other Settings gives a server that has them.
	CanChangeSettings() bool
	Close(ctx context.Context) error
}

// SampleSourcer is a Target with figures of its own for the sampler, such as a pooler's SHOW
// POOLS. The runner passes them to NewSampler.
type SampleSourcer interface {
	SampleSources() []SampleSource
}

// SampleSourcesOf returns t's extra sample sources, if it has any.
func SampleSourcesOf(t Target) []SampleSource {
	if s, ok := t.(SampleSourcer); ok {
		return s.SampleSources()
	}
	return nil
}

// ServerInfo is what a target reports of its server.
type ServerInfo struct {
	Version        string            // e.g. "15.18"
	VersionNum     int               // server_version_num, e.g. 150018
	Settings       map[string]string // settings whose source is not the default
	MaxConnections int
}

// Provider starts targets of one kind.
type Provider interface {
	Kind() string
	// Available says whether this provider can start a target here, and if not, why.
	Available(ctx context.Context) error
	Start(ctx context.Context, spec Spec) (Target, error)
}

// SortedKeys returns the keys of m in order; settings are always written in that order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SettingArgs turns settings into postgres command-line flags: -c name=value, in sorted order.
func SettingArgs(settings map[string]string) []string {
	var args []string
	for _, k := range SortedKeys(settings) {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

// ValidateSettingName rejects a setting name that is not a plain identifier (it would be passed
// on a command line).
func ValidateSettingName(name string) error {
	if name == "" || strings.IndexFunc(name, func(r rune) bool {
		return !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return usage.Errorf("--pg-setting %q: a setting name has only letters, digits, '_' and '.'", name)
	}
	return nil
}
