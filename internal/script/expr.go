package script

import (
	"strconv"
	"strings"
)

// op is an expression node's operation.
type op uint8

const (
	opConst op = iota
	opVar
	opOr
	opAnd
	opNot
	opIsNull
	opIsTrue
	opIsFalse
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opBitOr
	opBitXor
	opBitAnd
	opBitNot
	opShl
	opShr
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opCase // args: when1, then1, when2, then2, ..., else
	opFunc
)

// expr is a node of a parsed \set or \if expression.
type expr struct {
	op   op
	neg  bool   // IS NOT / NOTNULL
	v    value  // opConst
	name string // opVar: the variable; opFunc: the function
	fn   *funcDef
	args []*expr
}

// exprToken is a token of the expression lexer.
type exprToken struct {
	t   tokType
	s   string // identifier, operator, or literal text
	pos int    // byte offset in the expression source
}

type tokType uint8

const (
	tEOF tokType = iota
	tInt
	tDouble
	tIdent
	tVar
	tOp
)

// exprParser parses one expression by precedence climbing, with pgbench's precedences (lowest
// first): OR; AND; NOT; IS, ISNULL, NOTNULL; comparisons; | # & << >> ~; + -; * / %; unary + -.
type exprParser struct {
	src  string
	toks []exprToken
	i    int
}

// exprSyntaxError is a parse error at byte offset pos of the expression source.
type exprSyntaxError struct {
	pos int
	msg string
}

func (e *exprSyntaxError) Error() string { return e.msg }

func parseExpr(src string) (*expr, error) {
	toks, err := lexExpr(src)
	if err != nil {
		return nil, err
	}
	p := &exprParser{src: src, toks: toks}
	e, err := p.parse(1)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.t != tEOF {
		return nil, p.unexpected(t, "an operator or the end of the expression")
	}
	return e, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func lexExpr(src string) ([]exprToken, error) {
	var toks []exprToken
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			start, dbl := i, false
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i < len(src) && src[i] == '.' {
				dbl = true
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && src[j] >= '0' && src[j] <= '9' {
					dbl = true
					for j < len(src) && src[j] >= '0' && src[j] <= '9' {
						j++
					}
					i = j
				}
			}
			t := tInt
			if dbl {
				t = tDouble
			}
			toks = append(toks, exprToken{t: t, s: src[start:i], pos: start})
		case isIdentStart(c):
			start := i
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			toks = append(toks, exprToken{t: tIdent, s: src[start:i], pos: start})
		case c == ':':
			start := i
			i++
			if i >= len(src) || !isIdentStart(src[i]) {
				return nil, &exprSyntaxError{pos: start, msg: "expected a variable name after \":\""}
			}
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			toks = append(toks, exprToken{t: tVar, s: src[start+1 : i], pos: start})
		default:
			start := i
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "<=", ">=", "<>", "!=", "<<", ">>":
				i += 2
				toks = append(toks, exprToken{t: tOp, s: two, pos: start})
				continue
			}
			if !strings.ContainsRune("+-*/%()<>=,|#&~", rune(c)) {
				return nil, &exprSyntaxError{pos: start, msg: "unexpected character " + strconv.QuoteRune(rune(c))}
			}
			i++
			toks = append(toks, exprToken{t: tOp, s: src[start:i], pos: start})
		}
	}
	return append(toks, exprToken{t: tEOF, pos: len(src)}), nil
}

func (p *exprParser) peek() exprToken { return p.toks[p.i] }
func (p *exprParser) next() exprToken { t := p.toks[p.i]; p.i++; return t }

func (p *exprParser) keyword(t exprToken, kw string) bool {
	return t.t == tIdent && strings.EqualFold(t.s, kw)
}

func (p *exprParser) unexpected(t exprToken, want string) error {
	found := strconv.Quote(t.s)
	if t.t == tEOF {
		found = "the end of the expression"
	}
	return &exprSyntaxError{pos: t.pos, msg: "syntax error: expected " + want + ", found " + found}
}

// binary returns the binary (or postfix) operator at t and its precedence level, or 0.
func binaryOp(t exprToken) (op, int) {
	switch t.t {
	case tIdent:
		switch strings.ToUpper(t.s) {
		case "OR":
			return opOr, 1
		case "AND":
			return opAnd, 2
		case "IS", "ISNULL", "NOTNULL":
			return opIsNull, 4
		}
	case tOp:
		switch t.s {
		case "=":
			return opEq, 5
		case "<>", "!=":
			return opNe, 5
		case "<":
			return opLt, 5
		case "<=":
			return opLe, 5
		case ">":
			return opGt, 5
		case ">=":
			return opGe, 5
		case "|":
			return opBitOr, 6
		case "#":
			return opBitXor, 6
		case "&":
			return opBitAnd, 6
		case "<<":
			return opShl, 6
		case ">>":
			return opShr, 6
		case "+":
			return opAdd, 7
		case "-":
			return opSub, 7
		case "*":
			return opMul, 8
		case "/":
			return opDiv, 8
		case "%":
			return opMod, 8
		}
	}
	return 0, 0
}

func (p *exprParser) parse(minPrec int) (*expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	lastNonassoc := 0
	for {
		t := p.peek()
		o, prec := binaryOp(t)
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		if prec == 5 && lastNonassoc == prec {
			return nil, &exprSyntaxError{pos: t.pos, msg: "syntax error: " + strconv.Quote(t.s) + " cannot follow another operator of its kind without parentheses"}
		}
		p.next()
		if prec == 4 { // IS tests chain: "x IS NULL IS TRUE" is "(x IS NULL) IS TRUE", as in pgbench
			left, err = p.isTest(t, left)
			if err != nil {
				return nil, err
			}
			lastNonassoc = 0
			continue
		}
		right, err := p.parse(prec + 1)
		if err != nil {
			return nil, err
		}
		switch o {
		case opGt: // "a > b" is "b < a", evaluating b first, as pgbench does
			left = &expr{op: opLt, args: []*expr{right, left}}
		case opGe:
			left = &expr{op: opLe, args: []*expr{right, left}}
		default:
			left = &expr{op: o, args: []*expr{left, right}}
		}
		if prec == 5 {
			lastNonassoc = prec
		} else {
			lastNonassoc = 0
		}
	}
}

// isTest parses the rest of "x IS [NOT] NULL|TRUE|FALSE", "x ISNULL" or "x NOTNULL".
func (p *exprParser) isTest(t exprToken, x *expr) (*expr, error) {
	switch strings.ToUpper(t.s) {
	case "ISNULL":
		return &expr{op: opIsNull, args: []*expr{x}}, nil
	case "NOTNULL":
		return &expr{op: opIsNull, neg: true, args: []*expr{x}}, nil
	}
	neg := false
	if p.keyword(p.peek(), "NOT") {
		p.next()
		neg = true
	}
	w := p.next()
	switch {
	case p.keyword(w, "NULL"):
		return &expr{op: opIsNull, neg: neg, args: []*expr{x}}, nil
	case p.keyword(w, "TRUE"):
		return &expr{op: opIsTrue, neg: neg, args: []*expr{x}}, nil
	case p.keyword(w, "FALSE"):
		return &expr{op: opIsFalse, neg: neg, args: []*expr{x}}, nil
	}
	return nil, p.unexpected(w, "NULL, TRUE or FALSE after IS")
}

func (p *exprParser) unary() (*expr, error) {
	t := p.peek()
	switch {
	case p.keyword(t, "NOT"):
		p.next()
		x, err := p.parse(4)
		if err != nil {
			return nil, err
		}
		return &expr{op: opNot, args: []*expr{x}}, nil
	case t.t == tOp && t.s == "~":
		p.next()
		x, err := p.parse(7)
		if err != nil {
			return nil, err
		}
		return &expr{op: opBitNot, args: []*expr{x}}, nil
	case t.t == tOp && t.s == "+":
		p.next()
		return p.parse(9)
	case t.t == tOp && t.s == "-":
		p.next()
		if n := p.peek(); n.t == tInt && n.s == "9223372036854775808" {
			p.next()
			return &expr{op: opConst, v: intValue(-9223372036854775808)}, nil
		}
		x, err := p.parse(9)
		if err != nil {
			return nil, err
		}
		return &expr{op: opSub, args: []*expr{{op: opConst, v: intValue(0)}, x}}, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (*expr, error) {
	t := p.next()
	switch t.t {
	case tInt:
		i, err := strconv.ParseInt(t.s, 10, 64)
		if err != nil {
			return nil, &exprSyntaxError{pos: t.pos, msg: "bigint constant overflow (" + t.s + ")"}
		}
		return &expr{op: opConst, v: intValue(i)}, nil
	case tDouble:
		f, err := strconv.ParseFloat(t.s, 64)
		if err != nil {
			return nil, &exprSyntaxError{pos: t.pos, msg: "double constant overflow (" + t.s + ")"}
		}
		return &expr{op: opConst, v: doubleValue(f)}, nil
	case tVar:
		return &expr{op: opVar, name: t.s}, nil
	case tOp:
		if t.s == "(" {
			x, err := p.parse(1)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.t != tOp || c.s != ")" {
				return nil, p.unexpected(c, "\")\"")
			}
			return x, nil
		}
	case tIdent:
		switch strings.ToUpper(t.s) {
		case "NULL":
			return &expr{op: opConst, v: nullValue}, nil
		case "TRUE":
			return &expr{op: opConst, v: boolValue(true)}, nil
		case "FALSE":
			return &expr{op: opConst, v: boolValue(false)}, nil
		case "CASE":
			return p.caseExpr()
		case "AND", "OR", "NOT", "IS", "ISNULL", "NOTNULL", "WHEN", "THEN", "ELSE", "END":
			return nil, p.unexpected(t, "a value")
		}
		return p.call(t)
	}
	return nil, p.unexpected(t, "a value")
}

func (p *exprParser) caseExpr() (*expr, error) {
	e := &expr{op: opCase}
	for p.keyword(p.peek(), "WHEN") {
		p.next()
		w, err := p.parse(1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); !p.keyword(t, "THEN") {
			return nil, p.unexpected(t, "THEN")
		}
		th, err := p.parse(1)
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, w, th)
	}
	if len(e.args) == 0 {
		return nil, p.unexpected(p.peek(), "WHEN after CASE")
	}
	els := &expr{op: opConst, v: nullValue}
	if p.keyword(p.peek(), "ELSE") {
		p.next()
		x, err := p.parse(1)
		if err != nil {
			return nil, err
		}
		els = x
	}
	if t := p.next(); !p.keyword(t, "END") {
		return nil, p.unexpected(t, "WHEN, ELSE or END")
	}
	e.args = append(e.args, els)
	return e, nil
}

func (p *exprParser) call(name exprToken) (*expr, error) {
	fn := lookupFunc(name.s)
	if fn == nil {
		return nil, &exprSyntaxError{pos: name.pos, msg: "unknown function " + strconv.Quote(name.s) + " (valid: " + funcNames() + ")"}
	}
	if t := p.next(); t.t != tOp || t.s != "(" {
		return nil, p.unexpected(t, "\"(\" after function name "+name.s)
	}
	e := &expr{op: opFunc, name: fn.name, fn: fn}
	if t := p.peek(); t.t == tOp && t.s == ")" {
		p.next()
	} else {
		for {
			a, err := p.parse(1)
			if err != nil {
				return nil, err
			}
			e.args = append(e.args, a)
			t := p.next()
			if t.t == tOp && t.s == ")" {
				break
			}
			if t.t != tOp || t.s != "," {
				return nil, p.unexpected(t, "\",\" or \")\"")
			}
		}
	}
	if n := len(e.args); n < fn.min || fn.max >= 0 && n > fn.max {
		return nil, &exprSyntaxError{pos: name.pos, msg: fn.name + "() takes " + fn.arity() + ", got " + strconv.Itoa(n)}
	}
	return e, nil
}
