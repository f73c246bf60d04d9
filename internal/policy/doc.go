// Package policy makes Lanyard's policy decisions as pure functions: the
// default settings of a new policy, whether a policy is valid, which policy
// applies to a user, which certificate templates a card issue gets, which
// card types are allowed, and the random user PIN. Nothing here touches a
// store, a clock or the network, so every rule is tested with tables, and
// the workflow and web packages call these functions instead of repeating
// the rules.
package policy
