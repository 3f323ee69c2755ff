package script

import (
	"strconv"
	"strings"
	"time"
)

// metaLine is a meta-command's text with backslash-newline continuations removed; off maps each
// byte of text back to its offset in the file, for error positions.
type metaLine struct {
	text string
	off  []int
}

// readMeta reads the meta-command starting at the backslash at start, up to the end of its line
// (continued by backslash-newline). It returns the line and where the next command starts.
func (p *parser) readMeta(start int) (metaLine, int) {
	var b strings.Builder
	var off []int
	i := start + 1
	for i < len(p.src) {
		c := p.src[i]
		if c == '\\' && i+1 < len(p.src) && p.src[i+1] == '\n' {
			i += 2
			continue
		}
		if c == '\\' && i+2 < len(p.src) && p.src[i+1] == '\r' && p.src[i+2] == '\n' {
			i += 3
			continue
		}
		if c == '\n' {
			break
		}
		b.WriteByte(c)
		off = append(off, i)
		i++
	}
	off = append(off, i) // the end
	return metaLine{text: strings.TrimRight(b.String(), "\r"), off: off}, i
}

// word is a whitespace-separated argument and its offset in the meta line's text.
type word struct {
	s   string
	pos int
}

func words(s string) []word {
	var ws []word
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		if j > i {
			ws = append(ws, word{s[i:j], i})
		}
		i = j
	}
	return ws
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' }

// meta parses the meta-command whose backslash is at start.
func (p *parser) meta(start int) (int, error) {
	ml, next := p.readMeta(start)
	at := func(pos int) int { // file offset of byte pos of the meta text
		if pos >= len(ml.off) {
			pos = len(ml.off) - 1
		}
		return ml.off[pos]
	}
	ws := words(ml.text)
	if len(ws) == 0 || !isIdentStart(ws[0].s[0]) {
		return 0, p.errAt(start, "expected a meta-command name after \"\\\"")
	}
	name := strings.ToLower(ws[0].s)
	args := ws[1:]
	line, _ := p.pos(start)
	cmd := &Command{Line: line, Meta: name, file: p.name, Label: label(p.name, line, "\\"+ml.text)}
	argc := func(min, max int) error {
		if len(args) < min {
			return p.errAt(at(len(ml.text)), "\\"+name+": missing argument")
		}
		if len(args) > max {
			return p.errAt(at(args[max].pos), "\\"+name+": unexpected argument "+strconv.Quote(args[max].s))
		}
		return nil
	}
	switch name {
	case "shell", "setshell":
		return 0, p.errAt(start, "\\"+name+" is refused: a benchmark script may not run commands on the load machine")
	case "set":
		if err := argc(2, 1<<30); err != nil {
			return 0, err
		}
		if !validVarName(args[0].s) {
			return 0, p.errAt(at(args[0].pos), "\\set: invalid variable name "+strconv.Quote(args[0].s)+" (letters, digits and underscores, not starting with a digit)")
		}
		cmd.name = args[0].s
		e, err := p.expression(ml, args[1].pos, at)
		if err != nil {
			return 0, err
		}
		cmd.expr = e
	case "if", "elif":
		if err := argc(1, 1<<30); err != nil {
			return 0, err
		}
		e, err := p.expression(ml, args[0].pos, at)
		if err != nil {
			return 0, err
		}
		cmd.expr = e
		if err := p.conditional(cmd, start); err != nil {
			return 0, err
		}
	case "else", "endif":
		if err := argc(0, 0); err != nil {
			return 0, err
		}
		if err := p.conditional(cmd, start); err != nil {
			return 0, err
		}
	case "sleep":
		if err := argc(1, 2); err != nil {
			return 0, err
		}
		if err := p.sleepArgs(cmd, args, at); err != nil {
			return 0, err
		}
	case "gset", "aset":
		if err := argc(0, 1); err != nil {
			return 0, err
		}
		return next, p.attachStore(cmd, args, start, at)
	case "startpipeline", "syncpipeline", "endpipeline":
		if err := argc(0, 0); err != nil {
			return 0, err
		}
		if err := p.pipelineCmd(cmd, start); err != nil {
			return 0, err
		}
	default:
		return 0, p.errAt(start, "unknown meta-command \\"+ws[0].s+" (valid: \\"+strings.Join(metaCommands, ", \\")+")")
	}
	p.cmds = append(p.cmds, cmd)
	return next, nil
}

func validVarName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

func (p *parser) expression(ml metaLine, from int, at func(int) int) (*expr, error) {
	e, err := parseExpr(ml.text[from:])
	if err != nil {
		if se, ok := err.(*exprSyntaxError); ok {
			return nil, p.errAt(at(from+se.pos), se.msg)
		}
		return nil, err
	}
	return e, nil
}

func (p *parser) sleepArgs(cmd *Command, args []word, at func(int) int) error {
	cmd.sleep = time.Second
	if len(args) == 2 {
		switch strings.ToLower(args[1].s) {
		case "us":
			cmd.sleep = time.Microsecond
		case "ms":
			cmd.sleep = time.Millisecond
		case "s":
		default:
			return p.errAt(at(args[1].pos), "\\sleep: unknown time unit "+strconv.Quote(args[1].s)+" (valid: us, ms, s)")
		}
	}
	a := args[0].s
	if strings.HasPrefix(a, ":") {
		if !validVarName(a[1:]) {
			return p.errAt(at(args[0].pos), "\\sleep: invalid variable name "+strconv.Quote(a))
		}
		cmd.sleepV = a[1:]
		return nil
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return p.errAt(at(args[0].pos), "\\sleep: invalid time "+strconv.Quote(a)+" (a non-negative integer or a :variable)")
	}
	cmd.sleepN = n
	return nil
}

// attachStore attaches \gset or \aset to the SQL command before it.
func (p *parser) attachStore(cmd *Command, args []word, start int, at func(int) int) error {
	if len(p.cmds) == 0 || p.cmds[len(p.cmds)-1].Meta != "" {
		return p.errAt(start, "\\"+cmd.Meta+" must follow an SQL command")
	}
	sql := p.cmds[len(p.cmds)-1]
	if sql.store != storeNone {
		return p.errAt(start, "\\"+cmd.Meta+" cannot follow \\gset or \\aset")
	}
	if p.pipeStart > 0 {
		return p.errAt(start, "\\"+cmd.Meta+" cannot be used inside a pipeline: results are not available until \\endpipeline")
	}
	if len(args) == 1 {
		if !validVarName(args[0].s) && !validVarName(args[0].s+"x") {
			return p.errAt(at(args[0].pos), "\\"+cmd.Meta+": invalid prefix "+strconv.Quote(args[0].s))
		}
		sql.prefix = args[0].s
	}
	sql.store = storeGset
	if cmd.Meta == "aset" {
		sql.store = storeAset
	}
	return nil
}

// conditional checks the nesting of \if, \elif, \else and \endif and sets their jumps.
func (p *parser) conditional(cmd *Command, start int) error {
	idx := len(p.cmds) // the index cmd will have
	if cmd.Meta == "if" {
		p.ifs = append(p.ifs, ifFrame{cmd: idx, lastCond: idx})
		return nil
	}
	if len(p.ifs) == 0 {
		return p.errAt(start, "\\"+cmd.Meta+" without a matching \\if")
	}
	f := &p.ifs[len(p.ifs)-1]
	switch cmd.Meta {
	case "elif", "else":
		if f.lastCond < 0 {
			return p.errAt(start, "\\"+cmd.Meta+" after \\else")
		}
		p.cmds[f.lastCond].jump = idx
		f.lastCond = idx
		if cmd.Meta == "else" {
			f.lastCond = -1
		}
		f.branches = append(f.branches, idx)
	case "endif":
		if f.lastCond >= 0 {
			p.cmds[f.lastCond].jump = idx
		}
		for _, b := range f.branches {
			p.cmds[b].end = idx
		}
		p.ifs = p.ifs[:len(p.ifs)-1]
	}
	return nil
}

func (p *parser) pipelineCmd(cmd *Command, start int) error {
	switch cmd.Meta {
	case "startpipeline":
		if p.pipeStart > 0 {
			return p.errAt(start, "\\startpipeline inside a pipeline (started at line "+strconv.Itoa(p.pipeStart)+")")
		}
		p.pipeStart = cmd.Line
	case "syncpipeline", "endpipeline":
		if p.pipeStart == 0 {
			return p.errAt(start, "\\"+cmd.Meta+" outside a pipeline: expected \\startpipeline first")
		}
		if cmd.Meta == "endpipeline" {
			p.pipeStart = 0
		}
	}
	return nil
}
