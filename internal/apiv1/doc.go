// Package apiv1 holds the wire types of the REST API under /api/v1: the
// request bodies, responses and views the web server encodes and decodes
// and the CLI and client read. Their json tags are the API contract
// (the OpenAPI document in internal/web/testdata/openapi.json is derived
// from them); the application layer takes and returns its own untagged
// types and the domain types of internal/lanyard, and converters here or
// in internal/web translate. apiv1 imports only internal/lanyard and pure
// packages, so a client can use it without the server.
package apiv1
