package service

import "context"

// FormApproved reports whether the certificate form of a card slot was
// approved. Placeholder until the documents part (issue #5) lands: no
// form can be approved yet, so certificates that need one wait.
// TODO(#5): replaced by the documents implementation.
func (s *Service) FormApproved(ctx context.Context, cardID int64, slot string) (bool, error) {
	return false, nil
}
