package harness

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/pgscale/pgscale/internal/usage"
)

// Names and limits of the local target.
const (
	localDirPrefix      = "pgscale-local-"    // run directories under os.TempDir()
	localTemplatePrefix = "pgscale-template-" // cached initdb'd templates under os.TempDir()
	localDataSubdir     = "pgdata"            // PGDATA inside a run or template directory
	localLogFile        = "server.log"        // the server's stdout and stderr, in the run directory
	localTemplateStamp  = "pgscale-template"  // names the installation a template was built by
	localSuperuser      = "postgres"          // the database superuser initdb creates
	localOSUser         = "postgres"          // the OS user that runs the server when pgscale is root

	// localStartTimeout bounds waiting for a started server to answer. A server starts in well
	// under a second; 30 s leaves room for a loaded CI machine without hiding a hung start.
	localStartTimeout = 30 * time.Second
	// localStopTimeout is how long a fast shutdown (SIGINT) may take before SIGKILL. Fast shutdown
	// writes one checkpoint; on an ephemeral benchmark server that takes well under a second.
	localStopTimeout = 10 * time.Second
	// localKillTimeout is how long to wait for the process to vanish after SIGKILL.
	localKillTimeout = 3 * time.Second
	// localPortAttempts is how often a start is tried with a new port when the one picked was
	// taken between picking and binding (another process got it first).
	localPortAttempts = 3
	// localSocketPathMax keeps the Unix socket path within sun_path (104 bytes on macOS, 108 on
	// Linux). Longer run directories start without a Unix socket; pgscale connects over TCP.
	localSocketPathMax = 100
)

// localManagedSettings are set by the local target itself; a spec may not override them.
var localManagedSettings = []string{
	"port", "listen_addresses", "unix_socket_directories", "data_directory",
	"config_file", "hba_file", "ident_file",
}

// LocalProvider starts PostgreSQL from binaries installed on this machine (see FindPGBinaries),
// each server in an ephemeral data directory under os.TempDir() on a free port of 127.0.0.1.
// Its zero value is ready to use.
type LocalProvider struct {
	// StartTimeout bounds waiting for the server to answer (default 30 s).
	StartTimeout time.Duration
	// NoTemplate makes every start run initdb instead of copying the cached, initdb'd template.
	NoTemplate bool

	// tempDir replaces os.TempDir() for run directories (tests isolate runs from other Cleans
	// with it); templates stay in os.TempDir(), a cache shared by every run of the account.
	tempDir string
}

// Kind returns "local".
func (p *LocalProvider) Kind() string { return KindLocal }

// Available reports whether a local server can be started here: server binaries must be found
// and, when pgscale runs as root, a postgres OS user must exist to run them.
func (p *LocalProvider) Available(ctx context.Context) error {
	if _, err := FindPGBinaries(ctx); err != nil {
		return err
	}
	_, err := localRunAs()
	return err
}

// Start starts a server for spec and returns it once it answers queries.
func (p *LocalProvider) Start(ctx context.Context, spec Spec) (Target, error) {
	t, err := p.StartLocal(ctx, spec)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// StartLocal is Start with the concrete type, for callers that want the data directory, the
// process or the start timings. A failed start leaves no process and no directory behind.
func (p *LocalProvider) StartLocal(ctx context.Context, spec Spec) (*LocalTarget, error) {
	began := time.Now()
	if err := localCheckSpec(spec); err != nil {
		return nil, err
	}
	bin, err := FindPGBinaries(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := localRunAs()
	if err != nil {
		return nil, err
	}
	var bouncerPath, bouncerVersion string
	if spec.Pooler != nil {
		if bouncerPath, bouncerVersion, err = findPgbouncer(ctx); err != nil {
			return nil, err
		}
	}
	t := &LocalTarget{bin: bin, acct: acct}
	if t.password, err = newLocalPassword(); err != nil {
		return nil, err
	}
	if t.secret, err = scramSecret(t.password); err != nil {
		return nil, err
	}
	if err := t.makeRunDir(p.dir(), spec.RunID); err != nil {
		return nil, err
	}
	err = t.start(ctx, p, spec.Settings)
	if err == nil && spec.Pooler != nil {
		err = t.startPooler(ctx, *spec.Pooler, bouncerPath, bouncerVersion, time.Now().Add(p.startTimeout()))
	}
	if err != nil {
		// Tear down on ctx's terms: canceled means SIGKILL at once, the data is worthless.
		if cerr := t.shutdown(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	t.timings.Total = time.Since(began)
	return t, nil
}

// dir is where run directories go.
func (p *LocalProvider) dir() string {
	if p.tempDir != "" {
		return p.tempDir
	}
	return os.TempDir()
}

// startTimeout is StartTimeout or its default.
func (p *LocalProvider) startTimeout() time.Duration {
	if p.StartTimeout > 0 {
		return p.StartTimeout
	}
	return localStartTimeout
}

// localCheckSpec rejects what the local target cannot honour, every problem at once.
func localCheckSpec(spec Spec) error {
	var errs []error
	if spec.Shape != "" {
		errs = append(errs, usage.Fieldf("shape", "%s: the local target cannot limit CPU or memory; use --target docker", spec.Shape))
	}
	if err := ValidatePooler(spec.Pooler); err != nil {
		errs = append(errs, err)
	}
	for _, name := range SortedKeys(spec.Settings) {
		if err := localCheckSetting(name, spec.Settings[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// localCheckSetting rejects a malformed name, a setting the target manages itself, and fsync off.
func localCheckSetting(name, value string) error {
	if err := ValidateSettingName(name); err != nil {
		return err
	}
	for _, managed := range localManagedSettings {
		if strings.EqualFold(name, managed) {
			return usage.Fieldf("pg-setting", "%s: the local target sets %s itself", name, managed)
		}
	}
	return checkFsyncSetting(name, value)
}

// checkFsyncSetting refuses fsync off, for every target that starts a server.
func checkFsyncSetting(name, value string) error {
	if strings.EqualFold(name, "fsync") {
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "on", "true", "yes", "1":
		default:
			return usage.Fieldf("pg-setting", "fsync=%s: refused, a server without fsync makes every write benchmark a lie", value)
		}
	}
	return nil
}
