package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPGBinDir names the environment variable that points the local target at a directory holding
// PostgreSQL's server programs (initdb and postgres). When set, it is the only place looked at.
const EnvPGBinDir = "PGSCALE_PG_BINDIR"

// pgBinGlob is where Debian and Ubuntu packages install the server programs, one folder per major.
const pgBinGlob = "/usr/lib/postgresql/*/bin"

// ErrNoLocalPostgres says that no PostgreSQL server programs were found; the error that wraps it
// says how to install them or which other target to use.
var ErrNoLocalPostgres = errors.New("local target: no PostgreSQL server programs (initdb, postgres) found")

// PGBinaries is one installation of PostgreSQL's server programs.
type PGBinaries struct {
	Dir     string // folder holding initdb and postgres
	Version string // e.g. "15.18"
	Major   int    // e.g. 15
	Source  string // where it was found: PGSCALE_PG_BINDIR, pg_config or the Debian layout
}

// Path returns the path of one of the installation's programs, e.g. Path("initdb").
func (b PGBinaries) Path(program string) string { return filepath.Join(b.Dir, program) }

// FindPGBinaries finds PostgreSQL's server programs: in $PGSCALE_PG_BINDIR when it is set (and
// nowhere else), else in `pg_config --bindir`, else in the highest /usr/lib/postgresql/*/bin.
// The error when none is found wraps ErrNoLocalPostgres and says how to get them.
func FindPGBinaries(ctx context.Context) (PGBinaries, error) {
	if dir := os.Getenv(EnvPGBinDir); dir != "" {
		if err := pgBinCheckDir(dir); err != nil {
			return PGBinaries{}, fmt.Errorf("local target: %s=%s: %w", EnvPGBinDir, dir, err)
		}
		return pgBinDescribe(ctx, dir, EnvPGBinDir)
	}
	looked := []string{"$" + EnvPGBinDir + " (unset)"}
	if dir, err := pgBinFromPGConfig(ctx); err != nil {
		looked = append(looked, "pg_config ("+err.Error()+")")
	} else if err := pgBinCheckDir(dir); err != nil {
		looked = append(looked, dir+" from pg_config ("+err.Error()+")")
	} else {
		return pgBinDescribe(ctx, dir, "pg_config")
	}
	dirs := pgBinDebianDirs()
	for _, dir := range dirs {
		if err := pgBinCheckDir(dir); err != nil {
			looked = append(looked, dir+" ("+err.Error()+")")
			continue
		}
		return pgBinDescribe(ctx, dir, pgBinGlob)
	}
	if len(dirs) == 0 {
		looked = append(looked, pgBinGlob+" (none)")
	}
	return PGBinaries{}, fmt.Errorf("%w; looked at %s; install PostgreSQL "+
		"(apt-get install postgresql, dnf install postgresql-server or brew install postgresql), "+
		"set %s to the folder holding initdb, or use --target docker or --target dsn",
		ErrNoLocalPostgres, strings.Join(looked, ", "), EnvPGBinDir)
}

// pgBinCheckDir tells whether dir holds executable initdb and postgres programs.
func pgBinCheckDir(dir string) error {
	for _, program := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, program))
		if err != nil {
			return fmt.Errorf("no %s there", program)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s there is not an executable file", program)
		}
	}
	return nil
}

// pgBinFromPGConfig asks pg_config (on PATH) for its bindir.
func pgBinFromPGConfig(ctx context.Context) (string, error) {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return "", errors.New("not on PATH")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return "", fmt.Errorf("pg_config --bindir: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// pgBinDebianDirs lists /usr/lib/postgresql/*/bin, highest version first.
func pgBinDebianDirs() []string {
	dirs, _ := filepath.Glob(pgBinGlob) // the pattern is valid, so the only error is none
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64) // "15", "9.6"
		return v
	}
	sort.SliceStable(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return dirs
}

// pgVersionRE reads `postgres --version`: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
// "postgres (PostgreSQL) 17beta1".
var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\)\s+((\d+)[0-9A-Za-z.]*)`)

// pgBinDescribe runs `postgres --version` in dir to learn the version.
func pgBinDescribe(ctx context.Context, dir, source string) (PGBinaries, error) {
	b := PGBinaries{Dir: dir, Source: source}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.Path("postgres"), "--version").Output()
	if err != nil {
		return b, fmt.Errorf("local target: %s --version: %w", b.Path("postgres"), err)
	}
	m := pgVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return b, fmt.Errorf("local target: %s --version: unexpected output %q", b.Path("postgres"),
			strings.TrimSpace(string(out)))
	}
	b.Version = m[1]
	b.Major, _ = strconv.Atoi(m[2]) // digits only, by the expression
	return b, nil
}

// FindPgbench finds a pgbench that runs: beside the server programs first, else on PATH. Debian
// puts pgbench in the server package (postgresql-NN); the /usr/bin/pgbench of
// postgresql-client-common alone is a wrapper that fails, so a candidate must answer --version.
func FindPgbench() (string, error) {
	var candidates []string
	if b, err := FindPGBinaries(context.Background()); err == nil {
		candidates = append(candidates, b.Path("pgbench"))
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if err := exec.Command(p, "--version").Run(); err == nil {
			return p, nil
		}
	}
	return "", errors.New("pgbench not found (or only a wrapper that cannot run it); install PostgreSQL's server package " +
		"(apt-get install postgresql: Debian ships pgbench with the server; brew install postgresql) or put pgbench on PATH")
}
