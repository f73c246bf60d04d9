// Package lanyard holds Lanyard's domain: the types every other package
// speaks (users, card types, certificate templates, policies, certificates,
// audit events), the one error type, and the interfaces that adapters
// implement (Store). It imports only the standard library, so that the
// policy, CA and workflow packages can depend on it without pulling in any
// database, network or card code (see docs/architecture.md).
package lanyard
