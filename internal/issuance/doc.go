// Package issuance holds the pure decisions of the card workflows
// (docs/architecture.md, "Issuing a card"): what the Issue card dialog
// offers the user and what a given choice means under the policy (offer.go,
// plan.go). The package is pure: the card
// steps that carry a plan out over a PIV card are internal/card/personalize's,
// and persistence, audit and the CA are the service's, which records each
// step's outcome in the operation row before the next step starts, so
// that a pulled card, a lost agent or a restarted server leaves the
// operation resumable.
//
// The guide's rules ("Issue a card") and where they live:
//   - Issue card permission, allowed card types, maximum cards per user,
//     users adding unregistered cards: Offer;
//   - required and optional templates, "Select optional certificates
//     when card is issued": Offer and Plan (via policy.Templates);
//   - Initialize card and its caution; the (current) Admin PIN field only
//     for cards not yet registered when users may add cards; PINs falling
//     back to the card type: Offer and Plan;
//   - Set random user PIN (length, character groups, shown once): Plan;
//   - tracked third-party certificates: Offer and Plan;
//   - templates for card-held keys only, extended key usages no user
//     certificate carries, and the CA approval by a second person of a
//     certificate asked for on another's behalf: trust.go (Issuable,
//     SecondPerson), used by Offer, Plan, software stores and the
//     service's certificate API alike.
package issuance
