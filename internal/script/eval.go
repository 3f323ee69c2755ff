package script

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

// evaluator evaluates expressions against a client's variables.
type evaluator struct {
	vars   map[string]value
	rng    *rand.Rand
	stderr io.Writer // debug() output
	script int       // for debug(): the script's index in the mix
	cmd    int       // for debug(): the command's index in the script
}

func (ev *evaluator) defaultSeed() (uint64, error) {
	v, ok := ev.vars["default_seed"]
	if !ok {
		return 0, errorf("undefined variable \"default_seed\"")
	}
	v, err := v.typed("default_seed")
	if err != nil {
		return 0, err
	}
	i, err := v.toInt()
	return uint64(i), err
}

func (ev *evaluator) debug(v value) {
	if ev.stderr == nil {
		return
	}
	switch v.k {
	case kNull:
		fmt.Fprintf(ev.stderr, "debug(script=%d,command=%d): null\n", ev.script, ev.cmd)
	default:
		fmt.Fprintf(ev.stderr, "debug(script=%d,command=%d): %s %s\n", ev.script, ev.cmd, kindName(v.k), v.text())
	}
}

func (ev *evaluator) eval(e *expr) (value, error) {
	switch e.op {
	case opConst:
		return e.v, nil
	case opVar:
		v, ok := ev.vars[e.name]
		if !ok {
			return value{}, errorf("undefined variable \"" + e.name + "\"")
		}
		return v.typed(e.name)
	case opAnd, opOr:
		l, err := ev.eval(e.args[0])
		if err != nil {
			return value{}, err
		}
		if l.k == kNull {
			return nullValue, nil
		}
		lb, err := l.toBool()
		if err != nil {
			return value{}, err
		}
		if e.op == opAnd && !lb || e.op == opOr && lb {
			return boolValue(lb), nil
		}
		r, err := ev.eval(e.args[1])
		if err != nil || r.k == kNull {
			return r, err
		}
		rb, err := r.toBool()
		return boolValue(rb), err
	case opNot:
		x, err := ev.eval(e.args[0])
		if err != nil || x.k == kNull {
			return x, err
		}
		b, err := x.toBool()
		return boolValue(!b), err
	case opIsNull, opIsTrue, opIsFalse:
		x, err := ev.eval(e.args[0])
		if err != nil {
			return value{}, err
		}
		var r bool
		switch e.op {
		case opIsNull:
			r = x.k == kNull
		case opIsTrue:
			r = x.k == kBool && x.b
		default:
			r = x.k == kBool && !x.b
		}
		return boolValue(r != e.neg), nil
	case opCase:
		n := len(e.args) - 1
		for i := 0; i < n; i += 2 {
			w, err := ev.eval(e.args[i])
			if err != nil {
				return value{}, err
			}
			if w.truth() {
				return ev.eval(e.args[i+1])
			}
		}
		return ev.eval(e.args[n])
	case opFunc:
		var buf [4]value
		args := buf[:0]
		for _, a := range e.args {
			v, err := ev.eval(a)
			if err != nil {
				return value{}, err
			}
			args = append(args, v)
		}
		return ev.callFunc(e.fn, args)
	case opBitNot:
		x, err := ev.eval(e.args[0])
		if err != nil || x.k == kNull {
			return x, err
		}
		i, err := x.toInt()
		return intValue(^i), err
	}
	l, err := ev.eval(e.args[0])
	if err != nil {
		return value{}, err
	}
	r, err := ev.eval(e.args[1])
	if err != nil {
		return value{}, err
	}
	return arith(e.op, l, r)
}

// arith evaluates a binary arithmetic, bitwise or comparison operator. NULL in gives NULL out.
func arith(o op, l, r value) (value, error) {
	if l.k == kNull || r.k == kNull {
		return nullValue, nil
	}
	switch o {
	case opBitOr, opBitXor, opBitAnd, opShl, opShr, opMod:
		a, err := l.toInt()
		if err != nil {
			return value{}, err
		}
		b, err := r.toInt()
		if err != nil {
			return value{}, err
		}
		switch o {
		case opBitOr:
			return intValue(a | b), nil
		case opBitXor:
			return intValue(a ^ b), nil
		case opBitAnd:
			return intValue(a & b), nil
		case opShl:
			return intValue(a << uint(b&63)), nil // the shift count wraps modulo 64, as on x86
		case opShr:
			return intValue(a >> uint(b&63)), nil
		}
		if b == 0 {
			return value{}, errorf("division by zero")
		}
		if b == -1 {
			return intValue(0), nil
		}
		return intValue(a % b), nil
	}
	if l.k == kDouble || r.k == kDouble {
		a, err := l.toDouble()
		if err != nil {
			return value{}, err
		}
		b, err := r.toDouble()
		if err != nil {
			return value{}, err
		}
		switch o {
		case opAdd:
			return doubleValue(a + b), nil
		case opSub:
			return doubleValue(a - b), nil
		case opMul:
			return doubleValue(a * b), nil
		case opDiv:
			return doubleValue(a / b), nil
		}
		return compare(o, a < b, a == b), nil
	}
	a, err := l.toInt()
	if err != nil {
		return value{}, err
	}
	b, err := r.toInt()
	if err != nil {
		return value{}, err
	}
	switch o {
	case opAdd:
		s := a + b
		if (s > a) != (b > 0) {
			return value{}, errorf("bigint add out of range")
		}
		return intValue(s), nil
	case opSub:
		s := a - b
		if (s < a) != (b > 0) {
			return value{}, errorf("bigint sub out of range")
		}
		return intValue(s), nil
	case opMul:
		if a != 0 && b != 0 {
			p := a * b
			if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return value{}, errorf("bigint mul out of range")
			}
			return intValue(p), nil
		}
		return intValue(0), nil
	case opDiv:
		if b == 0 {
			return value{}, errorf("division by zero")
		}
		if b == -1 {
			if a == math.MinInt64 {
				return value{}, errorf("bigint div out of range")
			}
			return intValue(-a), nil
		}
		return intValue(a / b), nil
	}
	return compare(o, a < b, a == b), nil
}

func compare(o op, lt, eq bool) value {
	var r bool
	switch o {
	case opEq:
		r = eq
	case opNe:
		r = !eq
	case opLt:
		r = lt
	case opLe:
		r = lt || eq
	case opGt:
		r = !lt && !eq
	case opGe:
		r = !lt
	}
	return boolValue(r)
}
