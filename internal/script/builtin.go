package script

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The built-in scripts, as pgbench's documentation writes them out.
var builtins = map[string]string{
	"tpcb-like": `\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`,
	"simple-update": `\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`,
	"select-only": `\set aid random(1, 100000 * :scale)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
`,
}

// BuiltinNames lists the built-in scripts, as pgbench -b does.
func BuiltinNames() []string { return []string{"tpcb-like", "simple-update", "select-only"} }

// splitWeight splits "name@weight"; the weight defaults to 1 and must be a positive integer.
func splitWeight(spec string) (string, int, error) {
	i := strings.LastIndexByte(spec, '@')
	if i < 0 {
		return spec, 1, nil
	}
	w, err := strconv.Atoi(spec[i+1:])
	if err != nil || w < 1 {
		return "", 0, fmt.Errorf("invalid weight %q in %q: a positive integer is required", spec[i+1:], spec)
	}
	return spec[:i], w, nil
}

// ParseSpec reads and parses "path[@weight]", as pgbench -f does.
func ParseSpec(spec string) (*Script, error) {
	path, w, err := splitWeight(spec)
	if err != nil {
		if _, statErr := os.Stat(spec); statErr != nil {
			return nil, err
		}
		path, w = spec, 1 // an "@" that belongs to the file's name
	}
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("script file %q does not exist", path)
		}
		return nil, fmt.Errorf("read script: %w", err)
	}
	s, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	s.Weight = w
	return s, nil
}

// Builtin returns a built-in script by "tpcb-like|simple-update|select-only[@weight]", as
// pgbench -b does. A unique prefix of a name is accepted, as by pgbench.
func Builtin(spec string) (*Script, error) {
	name, w, err := splitWeight(spec)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, n := range BuiltinNames() {
		if n == name {
			found = []string{n}
			break
		}
		if name != "" && strings.HasPrefix(n, name) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("unknown built-in script %q (valid: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	s, err := Parse("builtin: "+found[0], []byte(builtins[found[0]]))
	if err != nil {
		return nil, err
	}
	s.Weight = w
	return s, nil
}
