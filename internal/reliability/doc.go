// Package reliability is the reliability suite: the whole stack (two
// gateway instances as separate processes, a three-node Kafka cluster, the
// registry emulator) under load generator traffic, with one failure per
// scenario, and the invariant of DESIGN §8 checked after each: every event
// gets exactly one outcome from every stage it must pass, none is lost,
// and no registry registers anything twice.
//
// Scenarios: the gateway killed with SIGKILL again and again; a broker
// killed; the active controller killed; a registry outage; a registry
// answering slowly and timing out; storms of 429 with Retry-After; poison
// input mixed into the traffic.
//
// `make test` runs the short version (the real-Kafka pass sets
// EGISZ_KAFKA_HOME); `make test-reliability` runs the full one
// (EGISZ_RELIABILITY=full) three times in a row and prints a table per run.
// The tests are in reliability_test.go; this package has no other code.
package reliability
