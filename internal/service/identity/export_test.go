package identity

import "github.com/lanyard-cms/lanyard/internal/auth"

// TokenCached tells tests whether secret's principal is in the token
// read cache.
func (s *Identity) TokenCached(secret string) bool {
	_, ok := s.tokenCache.Get(string(auth.HashToken(secret)))
	return ok
}
