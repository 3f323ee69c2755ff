package script

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// fnID names a built-in function.
type fnID uint8

const (
	fnAbs fnID = iota
	fnDebug
	fnDouble
	fnExp
	fnGreatest
	fnHashMurmur2
	fnHashFNV1a
	fnInt
	fnLeast
	fnLn
	fnMod
	fnPermute
	fnPi
	fnPow
	fnRandom
	fnRandomExponential
	fnRandomGaussian
	fnRandomZipfian
	fnSqrt
)

// funcDef is a built-in function: its name and how many arguments it takes (max -1: any number).
type funcDef struct {
	name     string
	id       fnID
	min, max int
}

func (f *funcDef) arity() string {
	switch {
	case f.max < 0:
		return "at least " + strconv.Itoa(f.min) + " argument(s)"
	case f.min == f.max:
		if f.min == 1 {
			return "1 argument"
		}
		return strconv.Itoa(f.min) + " arguments"
	}
	return strconv.Itoa(f.min) + " to " + strconv.Itoa(f.max) + " arguments"
}

var funcs = map[string]*funcDef{
	"abs":                {"abs", fnAbs, 1, 1},
	"debug":              {"debug", fnDebug, 1, 1},
	"double":             {"double", fnDouble, 1, 1},
	"exp":                {"exp", fnExp, 1, 1},
	"greatest":           {"greatest", fnGreatest, 1, -1},
	"hash":               {"hash", fnHashMurmur2, 1, 2},
	"hash_fnv1a":         {"hash_fnv1a", fnHashFNV1a, 1, 2},
	"hash_murmur2":       {"hash_murmur2", fnHashMurmur2, 1, 2},
	"int":                {"int", fnInt, 1, 1},
	"least":              {"least", fnLeast, 1, -1},
	"ln":                 {"ln", fnLn, 1, 1},
	"mod":                {"mod", fnMod, 2, 2},
	"permute":            {"permute", fnPermute, 2, 3},
	"pi":                 {"pi", fnPi, 0, 0},
	"pow":                {"pow", fnPow, 2, 2},
	"power":              {"power", fnPow, 2, 2},
	"random":             {"random", fnRandom, 2, 2},
	"random_exponential": {"random_exponential", fnRandomExponential, 3, 3},
	"random_gaussian":    {"random_gaussian", fnRandomGaussian, 3, 3},
	"random_zipfian":     {"random_zipfian", fnRandomZipfian, 3, 3},
	"sqrt":               {"sqrt", fnSqrt, 1, 1},
}

func lookupFunc(name string) *funcDef { return funcs[strings.ToLower(name)] }

func funcNames() string {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// callFunc evaluates a built-in function on evaluated arguments.
func (ev *evaluator) callFunc(f *funcDef, args []value) (value, error) {
	if f.id == fnDebug {
		ev.debug(args[0])
		return args[0], nil
	}
	// Every other function returns NULL on a NULL argument.
	for _, a := range args {
		if a.k == kNull {
			return nullValue, nil
		}
	}
	switch f.id {
	case fnAbs:
		if args[0].k == kInt {
			if args[0].i < 0 {
				return intValue(-args[0].i), nil // abs(min int64) wraps, as pgbench
			}
			return args[0], nil
		}
		d, err := args[0].toDouble()
		return doubleValue(math.Abs(d)), err
	case fnDouble, fnExp, fnLn, fnSqrt:
		d, err := args[0].toDouble()
		if err != nil {
			return value{}, err
		}
		switch f.id {
		case fnExp:
			d = math.Exp(d)
		case fnLn:
			d = math.Log(d)
		case fnSqrt:
			d = math.Sqrt(d)
		}
		return doubleValue(d), nil
	case fnGreatest, fnLeast:
		return extremum(args, f.id == fnGreatest)
	case fnHashMurmur2, fnHashFNV1a:
		x, err := args[0].toInt()
		if err != nil {
			return value{}, err
		}
		seed, err := ev.seedArg(args, 1)
		if err != nil {
			return value{}, err
		}
		if f.id == fnHashFNV1a {
			return intValue(int64(hashFNV1a(uint64(x), seed))), nil
		}
		return intValue(int64(hashMurmur2(uint64(x), seed))), nil
	case fnInt:
		i, err := args[0].toInt()
		return intValue(i), err
	case fnMod:
		return arith(opMod, args[0], args[1])
	case fnPermute:
		x, err := args[0].toInt()
		if err != nil {
			return value{}, err
		}
		size, err := args[1].toInt()
		if err != nil {
			return value{}, err
		}
		seed, err := ev.seedArg(args, 2)
		if err != nil {
			return value{}, err
		}
		if size <= 0 {
			return value{}, errorf("permute size parameter must be greater than zero")
		}
		return intValue(permute(x, size, seed)), nil
	case fnPi:
		return doubleValue(math.Pi), nil
	case fnPow:
		x, err := args[0].toDouble()
		if err != nil {
			return value{}, err
		}
		y, err := args[1].toDouble()
		return doubleValue(math.Pow(x, y)), err
	case fnRandom, fnRandomExponential, fnRandomGaussian, fnRandomZipfian:
		return ev.random(f.id, args)
	}
	return value{}, errorf("function " + f.name + " is not implemented")
}

func (ev *evaluator) seedArg(args []value, i int) (uint64, error) {
	if len(args) > i {
		s, err := args[i].toInt()
		return uint64(s), err
	}
	return ev.defaultSeed()
}

// extremum is greatest() or least(): doubles if any argument is a double, else integers; other
// arguments fail to coerce, as in pgbench.
func extremum(args []value, greatest bool) (value, error) {
	double := false
	for _, a := range args {
		double = double || a.k == kDouble
	}
	if !double {
		var best int64
		for i, a := range args {
			x, err := a.toInt()
			if err != nil {
				return value{}, err
			}
			if i == 0 || greatest && x > best || !greatest && x < best {
				best = x
			}
		}
		return intValue(best), nil
	}
	var best float64
	for i, a := range args {
		x, err := a.toDouble()
		if err != nil {
			return value{}, err
		}
		if i == 0 || greatest && x > best || !greatest && x < best {
			best = x
		}
	}
	return doubleValue(best), nil
}

func (ev *evaluator) random(id fnID, args []value) (value, error) {
	lb, err := args[0].toInt()
	if err != nil {
		return value{}, err
	}
	ub, err := args[1].toInt()
	if err != nil {
		return value{}, err
	}
	if lb > ub {
		return value{}, errorf("empty range given to random")
	}
	if span := uint64(ub) - uint64(lb); span >= math.MaxInt64 {
		return value{}, errorf("random range is too large")
	}
	if id == fnRandom {
		return intValue(uniformRand(ev.rng, lb, ub)), nil
	}
	param, err := args[2].toDouble()
	if err != nil {
		return value{}, err
	}
	switch id {
	case fnRandomExponential:
		if !(param > 0) {
			return value{}, errorf("exponential parameter must be greater than zero (not " + strconv.FormatFloat(param, 'f', 6, 64) + ")")
		}
		return intValue(exponentialRand(ev.rng, lb, ub, param)), nil
	case fnRandomGaussian:
		if !(param >= minGaussianParam) {
			return value{}, errorf("gaussian parameter must be at least 2.000000 (not " + strconv.FormatFloat(param, 'f', 6, 64) + ")")
		}
		return intValue(gaussianRand(ev.rng, lb, ub, param)), nil
	}
	if !(param >= minZipfianParam && param <= maxZipfianParam) {
		return value{}, errorf("zipfian parameter must be in range [1.001, 1000] (not " + strconv.FormatFloat(param, 'f', 6, 64) + ")")
	}
	return intValue(zipfianRand(ev.rng, lb, ub, param)), nil
}
