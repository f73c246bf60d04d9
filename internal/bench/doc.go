// Package bench holds Lanyard's performance benchmarks. They are benchmarks,
// not timed tests: run them with `make bench` and compare the figures of one
// run with each other (docs/performance.md), never with a fixed number.
//
// BenchmarkIssuance compares, in one run on one machine:
//   - raw: x509.CreateCertificate with the built-in CA's issuing key and a
//     fixed certificate template (the signing limit),
//   - http-sqlite / http-postgres: POST /api/v1/certificates with an API
//     token and a P-256 public key, through the whole server, each
//     certificate and its audit event durably committed.
package bench
