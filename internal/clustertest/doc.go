// Package clustertest runs a Lanyard cluster as real processes for the
// tests and benchmarks of several replicas (docs/deployment.md): N
// `lanyard serve` processes on one PostgreSQL schema sharing one master
// key file, optionally Debian's HAProxy in front of them (HTTP for the API
// and pages, TCP with the PROXY protocol for agents), and `lanyard agent`
// and `lanyard aircard serve` processes pinned to a chosen replica or
// balanced through HAProxy.
//
// Every process runs in its own process group, is killed with it when the
// test ends (and, on Linux, when the test process dies), and listens on a
// loopback port it chose itself: the harness reads the addresses from the
// lines the processes print (`Lanyard is ready at URL`, `Agents connect to
// https://ADDR`, `Peer listener at https://ADDR (replica ID)`). When a test
// fails, the last lines of each process's output are logged.
//
// The package needs LANYARD_TEST_POSTGRES (pgtest) and, for HAProxy, the
// haproxy binary (scripts/test-deps.sh installs it); it fails, never skips,
// without them.
package clustertest
