// Package dsnsafety holds TestDSNSafety, which runs the built pgscale against servers of its own
// and diffs each server after every command. It is a test binary of its own so that go test runs
// it beside cmd/pgscale's other tests instead of after them; it has no code besides its test.
package dsnsafety
