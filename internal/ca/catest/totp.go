package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) TOTPEnrollment(int64) (*lanyard.TOTPEnrollment, error) {
	return nil, notImplemented("TOTPEnrollment")
}
func (*tx) PutTOTPEnrollment(*lanyard.TOTPEnrollment) error {
	return notImplemented("PutTOTPEnrollment")
}
func (*tx) UpdateTOTPEnrollment(*lanyard.TOTPEnrollment, int64) error {
	return notImplemented("UpdateTOTPEnrollment")
}
func (*tx) DeleteTOTPEnrollment(int64) error { return notImplemented("DeleteTOTPEnrollment") }
