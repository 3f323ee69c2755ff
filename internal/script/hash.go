package script

// FNV-1a (64-bit) and MurmurHash2 (64-bit, "MurmurHash64A") over the 8 little-endian bytes of an
// integer, seeded as pgbench's documentation describes; the published algorithms, so results
// equal pgbench's (hash(10, 5432) = -5817877081768721676, hash_fnv1a(10, 5432) =
// -7793829335365542153).

const (
	fnvOffsetBasis = 0xcbf29ce484222325
	fnvPrime       = 0x100000001b3
	murmurM        = 0xc6a4a7935bd1e995
	murmurR        = 47
)

func hashFNV1a(x, seed uint64) uint64 {
	h := uint64(fnvOffsetBasis) ^ seed
	for i := 0; i < 8; i++ {
		h ^= x & 0xff
		h *= fnvPrime
		x >>= 8
	}
	return h
}

func hashMurmur2(x, seed uint64) uint64 {
	m := uint64(murmurM)
	h := seed ^ (8 * m)
	k := x * murmurM
	k ^= k >> murmurR
	k *= murmurM
	h ^= k
	h *= murmurM
	h ^= h >> murmurR
	h *= murmurM
	h ^= h >> murmurR
	return h
}

// permute returns the position of x (mod size) in a pseudorandom permutation of [0, size)
// chosen by seed: a keyed bijection on the smallest power-of-two domain covering size (rounds of
// xor-with-key, odd multiplication and xor-shift, each invertible modulo that power of two),
// walked until it lands inside [0, size) ("cycle walking"), which keeps it a bijection on
// [0, size). Its values differ from pgbench's, which uses another construction; the contract
// (a permutation, no collisions, no holes) is the same.
func permute(x, size int64, seed uint64) int64 {
	v := uint64(x % size)
	if x%size < 0 {
		v = uint64(x%size + size)
	}
	if size == 1 {
		return 0
	}
	n := uint64(size)
	bits := 64
	for b := 1; b < 64; b++ {
		if n <= 1<<uint(b) {
			bits = b
			break
		}
	}
	mask := uint64(1)<<uint(bits) - 1
	if bits == 64 {
		mask = ^uint64(0)
	}
	shift := uint((bits + 1) / 2)
	keys := [4]uint64{}
	k := seed
	for i := range keys {
		k = hashMurmur2(k+uint64(i), seed)
		keys[i] = k
	}
	for {
		for _, key := range keys {
			v = (v ^ key) & mask
			v = (v * (key | 1)) & mask
			v ^= v >> shift
		}
		if v < n {
			return int64(v)
		}
	}
}
