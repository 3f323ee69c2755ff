// Package script parses and runs scripts in pgbench's language, as PostgreSQL 17's pgbench
// documentation describes it, so that a pgbench script runs unchanged under pgscale.
//
// # The language
//
//   - SQL commands end at a semicolon outside quotes, dollar quotes, comments and parentheses,
//     or at a meta-command; they may span lines. "\;" joins queries into one compound command.
//     Lines starting with "--" are comments. ":name" in SQL is a variable ("::" is a cast).
//   - \set NAME EXPR with pgbench's whole expression grammar: integer, double, boolean and NULL
//     constants, :variables, the operators + - * / % (unary - and +), & | # ~ << >>,
//     = <> != < <= > >=, AND OR NOT, IS [NOT] NULL|TRUE|FALSE, ISNULL, NOTNULL, CASE WHEN ...
//     END, parentheses, and the functions abs, debug, double, exp, greatest, hash, hash_fnv1a,
//     hash_murmur2, int, least, ln, mod, permute, pi, pow, power, random, random_exponential,
//     random_gaussian, random_zipfian and sqrt. Integer overflow and integer division by zero
//     are errors; NULL in gives NULL out; booleans and numbers do not mix except in \if and
//     CASE WHEN, where non-zero numbers are true and NULL is false (all as pgbench).
//   - \sleep N [us|ms|s] (N an integer or a :variable), \gset [prefix] and \aset [prefix],
//     \if/\elif/\else/\endif (nested), \startpipeline/\syncpipeline/\endpipeline.
//   - Predefined variables :client_id, :scale, :random_seed and :default_seed; Options.Vars
//     (-D NAME=VALUE) override them.
//   - \shell and \setshell are refused when the script is parsed: a benchmark file must not run
//     commands on the load machine.
//
// Errors found when parsing (an unknown meta-command or function, a wrong number of arguments,
// an unbalanced \if, a syntax error) are *SyntaxError, "file:line:column: message". Errors of
// the script found while it runs (an unset variable, a division by zero, \gset on a query that
// did not return one row, the end of the script inside a transaction) are *RuntimeError,
// "file:line: message", counted under the class "script_error"; they never panic.
//
// # Protocols
//
// The default protocol is simple, as in pgbench: the same script gives comparable figures under
// `pgbench -f` and pgscale, and it works through any pooler. Variables are written into the SQL
// text (pgconn's simple query: one Query message per command, a \; compound included).
// "extended" sends each query with its variables as text parameters $1, $2... in an unnamed
// statement (pgconn's ExecParams: Parse, Bind, Describe, Execute, Sync each time, as libpq's
// PQexecParams); "prepared" prepares each query once per connection and then only binds and
// executes it (pgconn's Prepare and ExecPrepared, as pgbench -M prepared). Parameters have no
// declared type: the server infers them, as with pgbench.
//
// Pipelines map onto pgconn's pipeline mode: \startpipeline enters it, each query is queued as
// Parse/Bind/Execute (or Bind/Execute of a statement prepared before the pipeline starts),
// \syncpipeline queues a Sync without flushing (libpq's PQsendPipelineSync), and \endpipeline
// sends the last Sync, flushes and reads every result. As in pgbench, pipelines need the
// extended or prepared protocol and cannot hold \gset or \aset.
//
// # Drivers
//
// A Client's interpreter runs step by step: Begin starts a transaction, Next runs meta-commands
// (\set, \if, ...) up to the next thing only a driver can do (run an SQL command, sleep, a
// pipeline meta-command, roll back after a failure), and Done and Recover hand it the result. Two
// drivers share it. Run drives it synchronously over pgconn, one goroutine per client (the
// goroutine engine). Wire drives it over raw protocol messages for the mux engine (loadgen/mux;
// the script scenario's default engine=auto picks it for a closed loop with a plaintext
// connection per client and no pipelines), where one OS thread serves many connections from one epoll_wait as each
// pgbench -j thread does: Wire appends each command's frontend messages (a Query; or Parse,
// Bind, Describe when storing, Execute per query and one Sync, parameters and results in text,
// statements parsed once per connection under the prepared protocol) and reads the replies
// (\gset and \aset from the text DataRows), without allocating per transaction. Wire does not
// run pipelines: the script scenario runs them on goroutines under engine=auto, and refuses them
// with engine=mux.
//
// # Retries and errors
//
// With MaxTries > 1, a serialization failure (40001) or deadlock (40P01) rolls the transaction
// back and restarts the script from its beginning with the variables as they were at its start,
// as pgbench 15 does; after the last try it counts as failed without stopping the client. Any
// other error stops the client (Outcome.Fatal), as in pgbench, unless ContinueOnError.
//
// # Differences from pgbench
//
//   - An unset variable in SQL is an error with every protocol; pgbench's simple protocol leaves
//     the text ":name" in the query instead.
//   - A NULL variable is sent as an SQL NULL parameter (extended, prepared); pgbench sends the
//     text "NULL". The simple protocol writes NULL, as pgbench.
//   - A \; compound works with the extended and prepared protocols (its queries are pipelined
//     with one Sync); under pgbench the server rejects it ("cannot insert multiple commands
//     into a prepared statement").
//   - permute() is a permutation of [0, size) chosen by the seed, as documented, but not the
//     same permutation as pgbench's; random numbers come from Go's generators, so the sequences
//     differ from pgbench's while the distributions are the documented ones. hash(),
//     hash_murmur2() and hash_fnv1a() give exactly pgbench's values.
//   - abs() of a boolean is an error ("cannot coerce boolean to double"); pgbench returns an
//     arbitrary double for it.
//   - \gset and \aset are attached to their SQL command (they are not commands of their own).
//   - BEGIN ATOMIC ... END bodies are not recognised when splitting SQL at semicolons.
package script
