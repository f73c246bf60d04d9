package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The Tx methods below are outside what a CA uses; they fail loudly so
// that a test exercising them by mistake is noticed.

func notImplemented(method string) error {
	return lanyard.Errorf(lanyard.EInternal, "catest: %s not implemented in fake", method)
}

func (*tx) CreateUser(*lanyard.User) error            { return notImplemented("CreateUser") }
func (*tx) UpdateUser(*lanyard.User) error            { return notImplemented("UpdateUser") }
func (*tx) UserByID(int64) (*lanyard.User, error)     { return nil, notImplemented("UserByID") }
func (*tx) LockUser(int64) error                      { return notImplemented("LockUser") }
func (*tx) LockCard(int64) error                      { return notImplemented("LockCard") }
func (*tx) UserByLogin(string) (*lanyard.User, error) { return nil, notImplemented("UserByLogin") }
func (*tx) UserByUPN(string) (*lanyard.User, error)   { return nil, notImplemented("UserByUPN") }
func (*tx) UserByExternalID(lanyard.UserSource, int64, string) (*lanyard.User, error) {
	return nil, notImplemented("UserByExternalID")
}
func (*tx) RevokeUserTokens(int64) (int, error)   { return 0, notImplemented("RevokeUserTokens") }
func (*tx) DeleteUserSessions(int64) (int, error) { return 0, notImplemented("DeleteUserSessions") }
func (*tx) ListUsers(lanyard.UserFilter) ([]*lanyard.User, error) {
	return nil, notImplemented("ListUsers")
}
func (*tx) CountUsers() (int, error)            { return 0, notImplemented("CountUsers") }
func (*tx) CreateToken(*lanyard.APIToken) error { return notImplemented("CreateToken") }
func (*tx) TokenByHash([]byte) (*lanyard.APIToken, error) {
	return nil, notImplemented("TokenByHash")
}
func (*tx) TokenByID(int64) (*lanyard.APIToken, error)    { return nil, notImplemented("TokenByID") }
func (*tx) ListTokens(int64) ([]*lanyard.APIToken, error) { return nil, notImplemented("ListTokens") }
func (*tx) RevokeToken(int64) error                       { return notImplemented("RevokeToken") }
func (*tx) TouchToken(int64, time.Time) error             { return notImplemented("TouchToken") }
func (*tx) CreateSession(*lanyard.Session) error          { return notImplemented("CreateSession") }
func (*tx) SessionByHash([]byte) (*lanyard.Session, error) {
	return nil, notImplemented("SessionByHash")
}
func (*tx) DeleteSession([]byte) error { return notImplemented("DeleteSession") }
func (*tx) DeleteExpiredSessions(time.Time) (int, error) {
	return 0, notImplemented("DeleteExpiredSessions")
}
func (*tx) CreateLoginChallenge(*lanyard.LoginChallenge) error {
	return notImplemented("CreateLoginChallenge")
}
func (*tx) LoginChallengeByHash([]byte) (*lanyard.LoginChallenge, error) {
	return nil, notImplemented("LoginChallengeByHash")
}
func (*tx) DeleteLoginChallenge([]byte) error { return notImplemented("DeleteLoginChallenge") }
func (*tx) DeleteUserLoginChallenges(int64) (int, error) {
	return 0, notImplemented("DeleteUserLoginChallenges")
}
func (*tx) ClipTokenLifetimes(time.Duration) (int, error) {
	return 0, notImplemented("ClipTokenLifetimes")
}
func (*tx) CreateCardType(*lanyard.CardType) error { return notImplemented("CreateCardType") }
func (*tx) UpdateCardType(*lanyard.CardType) error { return notImplemented("UpdateCardType") }
func (*tx) CardTypeByName(string) (*lanyard.CardType, error) {
	return nil, notImplemented("CardTypeByName")
}
func (*tx) ListCardTypes() ([]*lanyard.CardType, error) { return nil, notImplemented("ListCardTypes") }
func (*tx) DeleteCardType(string) error                 { return notImplemented("DeleteCardType") }
func (*tx) CreateTemplate(*lanyard.Template) error      { return notImplemented("CreateTemplate") }
func (*tx) UpdateTemplate(*lanyard.Template) error      { return notImplemented("UpdateTemplate") }
func (*tx) TemplateByName(string) (*lanyard.Template, error) {
	return nil, notImplemented("TemplateByName")
}
func (*tx) ListTemplates() ([]*lanyard.Template, error) { return nil, notImplemented("ListTemplates") }
func (*tx) DeleteTemplate(string) error                 { return notImplemented("DeleteTemplate") }
func (*tx) CreatePolicy(*lanyard.Policy) error          { return notImplemented("CreatePolicy") }
func (*tx) UpdatePolicy(*lanyard.Policy) error          { return notImplemented("UpdatePolicy") }
func (*tx) PolicyByName(string) (*lanyard.Policy, error) {
	return nil, notImplemented("PolicyByName")
}
func (*tx) ListPolicies() ([]*lanyard.Policy, error) { return nil, notImplemented("ListPolicies") }
func (*tx) DeletePolicy(string) error                { return notImplemented("DeletePolicy") }
func (*tx) UpdateCACRL(string, int64, []byte, time.Time) error {
	return notImplemented("UpdateCACRL")
}
func (*tx) CreateCertificate(*lanyard.Certificate) error {
	return notImplemented("CreateCertificate")
}
func (*tx) UpdateCertificate(*lanyard.Certificate) error {
	return notImplemented("UpdateCertificate")
}
func (*tx) CertificateBySerial(string, string) (*lanyard.Certificate, error) {
	return nil, notImplemented("CertificateBySerial")
}
func (*tx) CertificateByID(int64) (*lanyard.Certificate, error) {
	return nil, notImplemented("CertificateByID")
}
func (*tx) ListCertificates(lanyard.CertFilter) ([]*lanyard.Certificate, error) {
	return nil, notImplemented("ListCertificates")
}
func (*tx) CRLEntries(string, time.Time) ([]*lanyard.CRLEntry, error) {
	return nil, notImplemented("CRLEntries")
}
func (*tx) CreateRequest(*lanyard.CertRequest) error { return notImplemented("CreateRequest") }
func (*tx) UpdateRequest(*lanyard.CertRequest) error { return notImplemented("UpdateRequest") }
func (*tx) RequestByID(int64) (*lanyard.CertRequest, error) {
	return nil, notImplemented("RequestByID")
}
func (*tx) ListRequests(lanyard.RequestStatus) ([]*lanyard.CertRequest, error) {
	return nil, notImplemented("ListRequests")
}
func (*tx) CreateCertificates([]*lanyard.Certificate) error {
	return notImplemented("CreateCertificates")
}
func (*tx) AppendAudits([]*lanyard.AuditEvent) error { return notImplemented("AppendAudits") }
func (*tx) LockAudit() error                         { return notImplemented("LockAudit") }

func (*tx) CreateCard(*lanyard.Card) error        { return notImplemented("CreateCard") }
func (*tx) UpdateCard(*lanyard.Card) error        { return notImplemented("UpdateCard") }
func (*tx) CardByID(int64) (*lanyard.Card, error) { return nil, notImplemented("CardByID") }
func (*tx) CardBySerial(string, string) (*lanyard.Card, error) {
	return nil, notImplemented("CardBySerial")
}
func (*tx) CardsByIdentity(string, string) ([]*lanyard.Card, error) {
	return nil, notImplemented("CardsByIdentity")
}
func (*tx) ListCards(lanyard.CardFilter) ([]*lanyard.Card, error) {
	return nil, notImplemented("ListCards")
}
func (*tx) CountCards(int64) (int, error)            { return 0, notImplemented("CountCards") }
func (*tx) CreateOperation(*lanyard.Operation) error { return notImplemented("CreateOperation") }
func (*tx) UpdateOperation(*lanyard.Operation, time.Time) error {
	return notImplemented("UpdateOperation")
}
func (*tx) OperationByID(int64) (*lanyard.Operation, error) {
	return nil, notImplemented("OperationByID")
}
func (*tx) ListOperations(lanyard.OperationFilter) ([]*lanyard.Operation, error) {
	return nil, notImplemented("ListOperations")
}
func (*tx) SecretAnswers(int64) ([]lanyard.SecretAnswer, error) {
	return nil, notImplemented("SecretAnswers")
}
func (*tx) SetSecretAnswers(int64, []lanyard.SecretAnswer) error {
	return notImplemented("SetSecretAnswers")
}
func (*tx) SecretLock(int64) (lanyard.SecretLock, error) {
	return lanyard.SecretLock{}, notImplemented("SecretLock")
}
func (*tx) SetSecretLock(int64, lanyard.SecretLock) error { return notImplemented("SetSecretLock") }
func (*tx) ReturnSecretFailure(int64, time.Time) (lanyard.SecretLock, error) {
	return lanyard.SecretLock{}, notImplemented("ReturnSecretFailure")
}
func (*tx) AddSecretFailure(int64, int, time.Time) (lanyard.SecretLock, error) {
	return lanyard.SecretLock{}, notImplemented("AddSecretFailure")
}
func (*tx) CreateRSSSession(*lanyard.Session) error { return notImplemented("CreateRSSSession") }
func (*tx) RSSSessionByHash([]byte) (*lanyard.Session, error) {
	return nil, notImplemented("RSSSessionByHash")
}
func (*tx) DeleteRSSSession([]byte) error { return notImplemented("DeleteRSSSession") }
func (*tx) DeleteUserRSSSessions(int64) (int, error) {
	return 0, notImplemented("DeleteUserRSSSessions")
}

func (*tx) DeleteExpiredPairings(time.Time) (int, error) {
	return 0, notImplemented("DeleteExpiredPairings")
}

func (*tx) CreateMail(*lanyard.MailMessage) error { return notImplemented("CreateMail") }
func (*tx) UpdateMail(*lanyard.MailMessage) error { return notImplemented("UpdateMail") }
func (*tx) ClearMailContent(int64) error          { return notImplemented("ClearMailContent") }
func (*tx) MailByID(int64) (*lanyard.MailMessage, error) {
	return nil, notImplemented("MailByID")
}
func (*tx) ListMail(lanyard.MailFilter) ([]*lanyard.MailMessage, error) {
	return nil, notImplemented("ListMail")
}
func (*tx) RenewMailClaim(int64, string, time.Time) error { return notImplemented("RenewMailClaim") }
func (*tx) ClaimMail(string, time.Time, time.Time, int) ([]*lanyard.MailMessage, error) {
	return nil, notImplemented("ClaimMail")
}
