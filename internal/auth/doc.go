// Package auth holds the authentication primitives the web layer builds
// on: password hashing (argon2id in the PHC string format), the password
// policy, bearer secrets (API tokens, browser session ids, CSRF tokens)
// and the guess throttles (throttle.go), whose state lives in memory or,
// shared by a cluster's replicas, in the database (throttleshared.go). It
// knows nothing of HTTP; randomness and the clock are passed in, so that
// every function is testable as is.
package auth
