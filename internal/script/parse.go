package script

import (
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// store says what a SQL command does with its result rows.
type store uint8

const (
	storeNone store = iota
	storeGset       // \gset: the last query's one row into variables
	storeAset       // \aset: every query's rows into variables
)

// sqlPart is one query of a SQL command (a command has several when they are joined by \;).
type sqlPart struct {
	chunks []string // literal SQL around the variables: len(vars)+1
	vars   []string // the variables referenced, in order, one per occurrence
	params string   // the query with $1, $2... in place of the variables (extended, prepared)
	stmt   string   // the prepared statement's name (prepared)
}

// Command is one SQL command or meta-command of a script.
type Command struct {
	Line  int    // 1-based line where it starts in its file
	Meta  string // "" for SQL; "set", "sleep", "if", "elif", "else", "endif", "startpipeline", ...
	SQL   string // the SQL text (SQL commands only), as sent by the simple protocol before substitution
	Label string // "file:line: first line of the SQL" (for per-statement stats)

	file   string
	parts  []*sqlPart
	store  store
	prefix string        // \gset or \aset prefix
	name   string        // \set's variable
	expr   *expr         // \set, \if, \elif
	sleep  time.Duration // \sleep's unit
	sleepN int64         // \sleep's constant
	sleepV string        // \sleep's variable, when not a constant
	jump   int           // \if, \elif: the next \elif, \else or \endif of the same block
	end    int           // \elif, \else: the block's \endif
}

// Script is one parsed pgbench-language file (or built-in script).
type Script struct {
	Name     string // file path as given, or "builtin: tpcb-like"
	Weight   int    // >= 1
	Commands []*Command

	pipeline bool // it uses \startpipeline
}

var stmtCounter atomic.Uint64

// metaCommands are the meta-commands of pgbench's language that pgscale runs.
var metaCommands = []string{"aset", "elif", "else", "endif", "endpipeline", "gset", "if", "set", "sleep", "startpipeline", "syncpipeline"}

type parser struct {
	name       string
	src        string
	lineStarts []int
	cmds       []*Command
	ifs        []ifFrame
	pipeStart  int // line of the open \startpipeline, 0 when none
}

type ifFrame struct {
	cmd      int // index of the \if
	lastCond int // the \if or \elif whose jump is not set yet; -1 after \else
	branches []int
}

// Parse parses src as a pgbench script named name. Syntax errors are *SyntaxError whose Error()
// is "file:line:column: what was expected". \shell and \setshell are refused.
func Parse(name string, src []byte) (*Script, error) {
	p := newParser(name, string(src))
	if err := p.run(); err != nil {
		return nil, err
	}
	s := &Script{Name: name, Weight: 1, Commands: p.cmds}
	for _, c := range s.Commands {
		if c.Meta == "startpipeline" {
			s.pipeline = true
		}
	}
	return s, nil
}

// newParser is a parser of src, with the offsets of its lines.
func newParser(name, src string) *parser {
	p := &parser{name: name, src: src, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	return p
}

func (p *parser) pos(off int) (line, col int) {
	i := sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > off }) - 1
	return i + 1, off - p.lineStarts[i] + 1
}

func (p *parser) errAt(off int, msg string) error {
	line, col := p.pos(off)
	return &SyntaxError{File: p.name, Line: line, Col: col, Msg: msg}
}

func (p *parser) run() error {
	src := p.src
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\\':
			next, err := p.meta(i)
			if err != nil {
				return err
			}
			i = next
		default:
			next, err := p.sql(i)
			if err != nil {
				return err
			}
			i = next
		}
	}
	if len(p.ifs) > 0 {
		return p.errAt(p.lineStarts[p.cmds[p.ifs[len(p.ifs)-1].cmd].Line-1], "\\if without a matching \\endif")
	}
	if p.pipeStart > 0 {
		return p.errAt(p.lineStarts[p.pipeStart-1], "\\startpipeline without a matching \\endpipeline")
	}
	if len(p.cmds) == 0 {
		return &SyntaxError{File: p.name, Line: 1, Col: 1, Msg: "the script has no commands"}
	}
	return nil
}

// sql scans one SQL command from start up to its terminating semicolon (outside quotes, comments
// and parentheses), a backslash meta-command, or the end of the file. It returns where to go on.
func (p *parser) sql(start int) (int, error) {
	src := p.src
	var parts []string
	partStart := start
	depth := 0
	i := start
	end := -1
	next := -1
	for i < len(src) && end < 0 {
		if j, err := p.skipLexeme(i, start); err != nil {
			return 0, err
		} else if j > i {
			i = j
			continue
		}
		c := src[i]
		switch {
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth > 0 {
				depth--
			}
			i++
		case c == ';' && depth == 0:
			end, next = i, i+1
		case c == '\\' && i+1 < len(src) && src[i+1] == ';':
			parts = append(parts, src[partStart:i])
			partStart = i + 2
			i += 2
		case c == '\\' && i+1 < len(src) && isIdentStart(src[i+1]):
			end, next = i, i
		default:
			i++
		}
	}
	if end < 0 {
		end, next = len(src), len(src)
	}
	parts = append(parts, src[partStart:end])
	var texts []string
	for _, part := range parts {
		if t := strings.TrimSpace(part); t != "" && !onlyComments(t) {
			texts = append(texts, t)
		}
	}
	if len(texts) == 0 {
		return next, nil // an empty statement, or only comments
	}
	line, _ := p.pos(start)
	cmd := &Command{Line: line, SQL: strings.Join(texts, ";\n"), file: p.name}
	for _, t := range texts {
		cmd.parts = append(cmd.parts, splitVars(t))
	}
	cmd.Label = label(p.name, line, texts[0])
	p.cmds = append(p.cmds, cmd)
	return next, nil
}

func label(file string, line int, sql string) string {
	first := sql
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = strings.TrimSpace(first[:i])
	}
	if utf8.RuneCountInString(first) > 80 {
		r := []rune(first)
		first = string(r[:79]) + "…"
	}
	return file + ":" + strconv.Itoa(line) + ": " + first
}

// splitVars finds the :variable references of one query (not "::", which is a cast).
func splitVars(q string) *sqlPart {
	part := &sqlPart{stmt: "pgscale_" + strconv.FormatUint(stmtCounter.Add(1), 10)}
	var params strings.Builder
	last := 0
	for i := 0; i < len(q); i++ {
		if q[i] != ':' {
			continue
		}
		if i+1 < len(q) && q[i+1] == ':' {
			i++
			continue
		}
		if i+1 >= len(q) || !isIdentStart(q[i+1]) {
			continue
		}
		j := i + 1
		for j < len(q) && isIdentChar(q[j]) {
			j++
		}
		part.chunks = append(part.chunks, q[last:i])
		part.vars = append(part.vars, q[i+1:j])
		params.WriteString(q[last:i])
		params.WriteString("$" + strconv.Itoa(len(part.vars)))
		last = j
		i = j - 1
	}
	part.chunks = append(part.chunks, q[last:])
	params.WriteString(q[last:])
	part.params = params.String()
	return part
}

// skipLexeme returns the end of the string, quoted identifier, dollar-quoted string or comment
// that starts at i, or i when none does; from is where the SQL being scanned begins (an E before
// a quote, or an identifier character before a $, counts only from there).
func (p *parser) skipLexeme(i, from int) (int, error) {
	src := p.src
	switch c := src[i]; {
	case c == '\'':
		esc := i > from && (src[i-1] == 'e' || src[i-1] == 'E') && (i-1 == from || !isIdentChar(src[i-2]))
		return p.skipQuoted(i, '\'', esc)
	case c == '"':
		return p.skipQuoted(i, '"', false)
	case c == '$' && (i == from || !isIdentChar(src[i-1])):
		if j, err := p.skipDollar(i); err != nil || j > i+1 {
			return j, err
		}
		return i, nil // $1, or a $ in an operator
	case strings.HasPrefix(src[i:], "--"):
		if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
			return i + j, nil
		}
		return len(src), nil
	case strings.HasPrefix(src[i:], "/*"):
		return p.skipBlockComment(i)
	}
	return i, nil
}

func (p *parser) skipQuoted(i int, q byte, backslash bool) (int, error) {
	start := i
	i++
	for i < len(p.src) {
		c := p.src[i]
		switch {
		case backslash && c == '\\':
			i += 2
			continue
		case c == q:
			if i+1 < len(p.src) && p.src[i+1] == q {
				i += 2
				continue
			}
			return i + 1, nil
		}
		i++
	}
	what := "string"
	if q == '"' {
		what = "quoted identifier"
	}
	return 0, p.errAt(start, "unterminated "+what+": expected a closing "+string(q))
}

func (p *parser) skipDollar(i int) (int, error) {
	src := p.src
	j := i + 1
	if j < len(src) && isIdentStart(src[j]) {
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
	}
	if j >= len(src) || src[j] != '$' {
		return i + 1, nil // $1 or a $ in an operator: not a dollar quote
	}
	tag := src[i : j+1]
	k := strings.Index(src[j+1:], tag)
	if k < 0 {
		return 0, p.errAt(i, "unterminated dollar-quoted string: expected a closing "+tag)
	}
	return j + 1 + k + len(tag), nil
}

func (p *parser) skipBlockComment(i int) (int, error) {
	start := i
	depth := 0
	for i < len(p.src) {
		switch {
		case strings.HasPrefix(p.src[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(p.src[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	return 0, p.errAt(start, "unterminated /* comment: expected */")
}

// onlyComments reports whether a query holds nothing but comments and white space (the server
// would answer it with an empty result).
func onlyComments(q string) bool {
	for i := 0; i < len(q); {
		switch {
		case q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r' || q[i] == '\f' || q[i] == '\v':
			i++
		case strings.HasPrefix(q[i:], "--"):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*"):
			depth := 0
			for i < len(q) {
				if strings.HasPrefix(q[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(q[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		default:
			return false
		}
	}
	return true
}
