package lanyard

import (
	"context"
	"time"
)

// Store is Lanyard's persistent state. Both engines (internal/store/sqlite
// and internal/store/postgres) implement it and pass the same contract tests
// (internal/store/storetest).
//
// Every state change runs inside Update, in one database transaction, and
// appends its audit event with Tx.AppendAudit in that same transaction:
// either both land or neither does.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits durably if fn
	// returns nil; any error rolls everything back. Writers are serialized
	// where the engine requires it (SQLite) or where the audit chain does.
	Update(ctx context.Context, fn func(Tx) error) error
	// Engine names the engine: "sqlite" or "postgres".
	Engine() string
	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Notices delivers the change notices committed by any replica
	// sharing the database, this one included (Tx.Notify).
	Notices() Notices
	Close() error
}

// Tx is one transaction. Methods return *Error values: ENotFound when a
// looked-up object does not exist, EConflict on a unique-name clash. Times
// are stored with microsecond precision in UTC.
//
// Tx is composed of one interface per aggregate, so that a helper can ask
// for only the part of the store it uses (a CardStore, say) and its
// signature says what it may touch.
type Tx interface {
	UserStore
	TokenStore
	SessionStore
	CredentialStore
	CardTypeStore
	TemplateStore
	PolicyStore
	CAStore
	CertificateStore
	RequestStore
	CardStore
	OperationStore
	HeldPINStore
	OfflineUnblockStore
	CardReplacementStore
	ArchivedKeyStore
	KeyRecoveryStore
	OfflineArmStore
	CardPINStatusStore
	CardContentStore
	WorkstationStore
	AirCardStore
	DocumentStore
	MailStore
	SettingStore
	OIDCStore
	AuditStore
	SCIMStore
	DirectorySourceStore
	ReplicaStore
	NoticeStore
}

// UserStore holds users.
type UserStore interface {
	CreateUser(u *User) error // sets u.ID
	UpdateUser(u *User) error
	UserByID(id int64) (*User, error)
	UserByLogin(login string) (*User, error)
	// UserByUPN finds the user whose UPN equals upn ignoring case (the
	// engine's lower()); ENotFound when none or when upn is empty. A UPN
	// is unique ignoring case: Create/UpdateUser fail with EConflict when
	// another user holds it.
	UserByUPN(upn string) (*User, error)
	// UserByExternalID finds the account that source (and, for
	// SourceLDAP, the directory source sourceID) knows by externalID;
	// ENotFound when none or when externalID is empty. The triple is
	// unique: Create/UpdateUser fail with EConflict on a clash.
	UserByExternalID(source UserSource, sourceID int64, externalID string) (*User, error)
	// UsersByEmail lists the users whose e-mail address equals email
	// ignoring case (lower()), by ID; e-mail addresses are not unique,
	// so a single sign-on that matches by e-mail sees every holder.
	// Empty for an empty email.
	UsersByEmail(email string) ([]*User, error)
	// LockUser holds user id until the transaction ends, so that what
	// this transaction checks of the user's cards before it adds or
	// assigns one (the policy's maximum cards per user) stays true until
	// it commits: a second transaction locking the same user waits.
	// ENotFound when the user does not exist. Only in Update.
	LockUser(id int64) error
	ListUsers(f UserFilter) ([]*User, error)
	CountUsers() (int, error)
}

// TokenStore holds API tokens.
type TokenStore interface {
	CreateToken(t *APIToken) error // sets t.ID
	TokenByHash(hash []byte) (*APIToken, error)
	TokenByID(id int64) (*APIToken, error)
	ListTokens(userID int64) ([]*APIToken, error) // userID 0 = all
	RevokeToken(id int64) error
	TouchToken(id int64, at time.Time) error
	// RevokeUserTokens revokes every token of userID that is not revoked
	// yet and says how many there were.
	RevokeUserTokens(userID int64) (int, error)
	// ClipTokenLifetimes makes every token whose lifetime (from CreatedAt
	// to ExpiresAt) exceeds max expire at CreatedAt + max, and says how
	// many it changed.
	ClipTokenLifetimes(max time.Duration) (int, error)
}

// SessionStore holds browser sessions and the logins between password and
// second factor.
type SessionStore interface {
	CreateSession(s *Session) error
	SessionByHash(hash []byte) (*Session, error)
	DeleteSession(hash []byte) error
	// DeleteExpiredSessions deletes expired sessions and expired login
	// challenges, and counts both.
	DeleteExpiredSessions(now time.Time) (int, error)
	// DeleteUserSessions ends every browser session of userID and says
	// how many there were.
	DeleteUserSessions(userID int64) (int, error)
	// Logins between password and second factor.
	CreateLoginChallenge(c *LoginChallenge) error
	LoginChallengeByHash(hash []byte) (*LoginChallenge, error)
	DeleteLoginChallenge(hash []byte) error
	// DeleteUserLoginChallenges deletes every login challenge of userID
	// and says how many there were.
	DeleteUserLoginChallenges(userID int64) (int, error)
}

// CardTypeStore holds card types.
type CardTypeStore interface {
	CreateCardType(c *CardType) error // sets c.ID
	UpdateCardType(c *CardType) error
	CardTypeByName(name string) (*CardType, error)
	ListCardTypes() ([]*CardType, error)
	DeleteCardType(name string) error
}

// TemplateStore holds certificate templates.
type TemplateStore interface {
	CreateTemplate(t *Template) error // sets t.ID
	UpdateTemplate(t *Template) error
	TemplateByName(name string) (*Template, error)
	ListTemplates() ([]*Template, error)
	DeleteTemplate(name string) error
}

// PolicyStore holds policies, with their assignments.
type PolicyStore interface {
	CreatePolicy(p *Policy) error // sets p.ID
	UpdatePolicy(p *Policy) error
	PolicyByName(name string) (*Policy, error)
	ListPolicies() ([]*Policy, error)
	DeletePolicy(name string) error
}

// CAStore holds the CAs run by Lanyard.
type CAStore interface {
	CreateCA(c *CARecord) error
	CAByName(name string) (*CARecord, error)
	ListCAs() ([]*CARecord, error)
	UpdateCACRL(name string, number int64, der []byte, updated time.Time) error
}

// CertificateStore holds certificates.
type CertificateStore interface {
	CreateCertificate(c *Certificate) error // sets c.ID; (CA, Serial) is unique
	// CreateCertificates inserts many certificates at once (the group
	// commit of issuance); the result equals CreateCertificate for each.
	CreateCertificates(cs []*Certificate) error
	UpdateCertificate(c *Certificate) error // status, card, revocation fields
	CertificateBySerial(ca, serial string) (*Certificate, error)
	CertificateByID(id int64) (*Certificate, error)
	ListCertificates(f CertFilter) ([]*Certificate, error)
	// CRLEntries returns the CRL entries of ca, oldest first: its revoked
	// certificates and those on hold whose validity has not ended at
	// validAt (NotAfter at or after it; RFC 5280 5.1.2.6 lets a CRL drop
	// a certificate once it has expired).
	CRLEntries(ca string, validAt time.Time) ([]*CRLEntry, error)
	// LockCertificate holds certificate id until the transaction ends,
	// as LockCard does a card: a change made from a copy read before
	// (a revocation, marking it written) reads it again after the lock.
	LockCertificate(id int64) error
}

// RequestStore holds certificate requests (the CA's pending queue).
type RequestStore interface {
	CreateRequest(r *CertRequest) error // sets r.ID
	UpdateRequest(r *CertRequest) error // records a decision; EConflict unless the request is still pending
	RequestByID(id int64) (*CertRequest, error)
	ListRequests(status RequestStatus) ([]*CertRequest, error) // "" = all
}

// CardStore holds cards. (CardType, Serial) is unique.
type CardStore interface {
	CreateCard(c *Card) error // sets c.ID
	UpdateCard(c *Card) error // every field but ID, Serial, CardType and CreatedAt
	CardByID(id int64) (*Card, error)
	CardBySerial(cardType, serial string) (*Card, error)
	// CardsByIdentity returns the cards bound to the management key
	// identifier ident or presenting CHUID GUID guid ("" matches none).
	CardsByIdentity(ident, guid string) ([]*Card, error)
	ListCards(f CardFilter) ([]*Card, error)
	CountCards(ownerID int64) (int, error) // cards of ownerID that are not revoked
	// LockCard holds card id until the transaction ends, as LockUser
	// does a user: checks of the card made after it stay true until
	// commit. ENotFound when the card does not exist. Only in Update.
	LockCard(id int64) error
}

// OperationStore holds operations: resumable card workflows.
type OperationStore interface {
	CreateOperation(o *Operation) error // sets o.ID
	// UpdateOperation writes state, step, data, error and UpdatedAt if the
	// operation is unchanged since it was read (its UpdatedAt is still
	// prev), else fails with EConflict: of two runs of one operation
	// (two Continues, a Continue and a recovery sweep) only one proceeds.
	UpdateOperation(o *Operation, prev time.Time) error
	OperationByID(id int64) (*Operation, error)
	ListOperations(f OperationFilter) ([]*Operation, error) // newest first
}

// HeldPINStore holds held PINs: a card issue's random user PIN kept sealed
// for one purpose (HeldPIN); (OperationID, Purpose) is unique.
type HeldPINStore interface {
	CreateHeldPIN(h *HeldPIN) error                                      // EConflict when the operation holds one for the purpose
	HeldPIN(operationID int64, purpose HeldPINPurpose) (*HeldPIN, error) // ENotFound
	// HeldPINsOf lists ownerID's held PINs kept for purpose, oldest first.
	HeldPINsOf(ownerID int64, purpose HeldPINPurpose) ([]*HeldPIN, error)
	// MarkHeldPINMailed empties a mail copy's Sealed and records mailedTo
	// if it still holds its PIN: ENotFound when there is none, EConflict
	// when it was mailed meanwhile (of two requests, one mails).
	MarkHeldPINMailed(operationID int64, mailedTo string) error
	// DeleteHeldPIN deletes one; ENotFound when there is none (of two
	// requests taking it, one finds it).
	DeleteHeldPIN(operationID int64, purpose HeldPINPurpose) error
	// DeleteCardHeldPINs deletes every held PIN of cardID and says how
	// many there were.
	DeleteCardHeldPINs(cardID int64) (int, error)
	// DeleteExpiredHeldPINs deletes every held PIN whose ExpiresAt is not
	// after now, with one indexed statement, and returns their operation
	// IDs.
	DeleteExpiredHeldPINs(now time.Time) ([]int64, error)
}

// CredentialStore holds a user's second factors beyond the password:
// secret answers and the TOTP enrollment.
type CredentialStore interface {
	// Secret questions of a user, in order; Set replaces them all.
	SecretAnswers(userID int64) ([]SecretAnswer, error)
	SetSecretAnswers(userID int64, answers []SecretAnswer) error
	// SecretLock is userID's wrong-answer count and lock (zero when
	// none); SetSecretLock replaces it (ENotFound: no such user).
	SecretLock(userID int64) (SecretLock, error)
	SetSecretLock(userID int64, l SecretLock) error
	// AddSecretFailure counts one more wrong answer for userID in one
	// statement, so that parallel attempts cannot lose a count, and
	// locks the answers at now when the count reaches lockAt (a lock, once
	// set, keeps its time). It returns the new state.
	AddSecretFailure(userID int64, lockAt int, now time.Time) (SecretLock, error)
	// ReturnSecretFailure takes back one count of AddSecretFailure in one
	// statement (never below zero), for an attempt that could not be
	// verified; it lifts the lock only when it is the one set at
	// lockedAt (the lock that attempt set; zero: none). It returns the
	// new state.
	ReturnSecretFailure(userID int64, lockedAt time.Time) (SecretLock, error)
	// Remote Self-Service sessions (/rss/) live apart from browser
	// sessions, so that no sign-in path can take one for the other.
	// RSSSessionByHash fails with ENotFound for an unknown hash; expired
	// ones go with DeleteExpiredSessions.
	CreateRSSSession(s *Session) error
	RSSSessionByHash(hash []byte) (*Session, error)
	DeleteRSSSession(hash []byte) error
	// DeleteUserRSSSessions ends every Remote Self-Service session of
	// userID, leaving browser sessions, and says how many there were.
	DeleteUserRSSSessions(userID int64) (int, error)
	// TOTP enrollments (authenticator apps), one per user.
	TOTPEnrollment(userID int64) (*TOTPEnrollment, error) // ENotFound when none
	// PutTOTPEnrollment stores e as its user's enrollment, replacing an
	// unconfirmed one; EConflict if the user has a confirmed enrollment
	// (it must be deleted first), EInvalid if the user does not exist.
	PutTOTPEnrollment(e *TOTPEnrollment) error
	// UpdateTOTPEnrollment writes ConfirmedAt and LastStep if the stored
	// enrollment is still the one e was read as (the same SealedSecret)
	// and its LastStep is still prevStep, else fails with EConflict: of
	// two uses of one code, or a use racing a replacement, one wins.
	UpdateTOTPEnrollment(e *TOTPEnrollment, prevStep int64) error
	DeleteTOTPEnrollment(userID int64) error // ENotFound when none
}

// WorkstationStore holds workstations (paired agents).
type WorkstationStore interface {
	CreateWorkstation(w *Workstation) error // sets w.ID
	UpdateWorkstation(w *Workstation) error // every field but ID and CreatedAt
	WorkstationByID(id int64) (*Workstation, error)
	// WorkstationByPairingCode finds the pending workstation whose pairing
	// code hashes (hex SHA-256) to hash.
	WorkstationByPairingCode(hash string) (*Workstation, error)
	WorkstationByCertSerial(serial string) (*Workstation, error)
	ListWorkstations(f WorkstationFilter) ([]*Workstation, error)
	// TouchWorkstation sets only LastSeenAt, so that a connecting agent
	// never overwrites a revocation committed meanwhile.
	TouchWorkstation(id int64, at time.Time) error
	// DeleteExpiredPairings deletes pending workstations whose pairing
	// code expired before at (unconfirmed requests) and returns how many.
	DeleteExpiredPairings(before time.Time) (int, error)
}

// AirCardStore holds the allowed computers of each AirCard and the
// connection codes that add one.
type AirCardStore interface {
	AddAirCardComputer(c *AirCardComputer) error             // EConflict when already allowed
	RemoveAirCardComputer(cardID, workstationID int64) error // ENotFound when not allowed
	AirCardComputers(cardID int64) ([]*AirCardComputer, error)
	// AirCardsAllowedOn returns the IDs of the AirCards workstationID may use.
	AirCardsAllowedOn(workstationID int64) ([]int64, error)
	CreateAirCardCode(c *AirCardCode) error
	AirCardCodeByHash(hash string) (*AirCardCode, error) // ENotFound
	// UseAirCardCode marks the code used by workstationID at at, if it is
	// still unused; EConflict when another use came first.
	UseAirCardCode(id, workstationID int64, at time.Time) error
}

// DocumentStore holds the documents of the documents check. Uploads and
// decisions are a document's history: they are only ever added.
type DocumentStore interface {
	CreateDocument(d *Document) error // sets d.ID
	// UpdateDocument writes State, Uploads and UpdatedAt if the document
	// is still in state from, else fails with EConflict: of two officers
	// deciding at once, or an upload racing a decision, one wins.
	UpdateDocument(d *Document, from DocumentState) error
	DocumentByID(id int64) (*Document, error)
	ListDocuments(f DocumentFilter) ([]*Document, error) // newest first
	// SetDocumentForm keeps the form generated for document id and its
	// hex SHA-256; EConflict if the document already has one (the form
	// never changes once generated).
	SetDocumentForm(id int64, pdf []byte, sha256Hex string) error
	DocumentForm(id int64) ([]byte, error)        // ENotFound until set
	CreateDocumentUpload(u *DocumentUpload) error // sets u.ID; (DocumentID, Version) is unique
	// DocumentUploads lists a document's uploads, oldest first, without
	// their Content; DocumentUpload reads one with it.
	DocumentUploads(documentID int64) ([]*DocumentUpload, error)
	DocumentUpload(documentID int64, version int) (*DocumentUpload, error)
	CreateDocumentDecision(d *DocumentDecision) error                // sets d.ID
	DocumentDecisions(documentID int64) ([]*DocumentDecision, error) // oldest first
}

// MailStore is the e-mail outbox (internal/notify).
type MailStore interface {
	CreateMail(m *MailMessage) error // sets m.ID
	// UpdateMail records an attempt's outcome: state, attempts, next
	// attempt, last error, UpdatedAt and SentAt.
	UpdateMail(m *MailMessage) error
	// ClearMailContent empties a message's sealed Content and keeps the
	// rest (recipients, kind, subject, times, state): a delivered or
	// given-up body, which may hold a PIN, a code or a document, is not
	// kept longer than needed.
	ClearMailContent(id int64) error
	MailByID(id int64) (*MailMessage, error) // with Content
	// ListMail returns messages without Content, newest first.
	ListMail(f MailFilter) ([]*MailMessage, error)
	// ClaimMail moves up to limit due messages — queued, or sending whose
	// lease ran out, with NextAttemptAt not after now — to sending under
	// claim (a random token, new for each call), counts the attempt and
	// sets NextAttemptAt to leaseUntil; it returns them with Content, in
	// id order (the most overdue are taken first). Concurrent claims
	// (replicas) never return the same message while its lease lasts.
	ClaimMail(claim string, now, leaseUntil time.Time, limit int) ([]*MailMessage, error)
	// RenewMailClaim extends the lease of message id to leaseUntil while
	// it is sending under claim, and holds its row until the transaction
	// ends; EConflict when the claim was lost (the lease ran out and the
	// message was claimed again, or its outcome was recorded).
	RenewMailClaim(id int64, claim string, leaseUntil time.Time) error
}

// SettingStore holds small named values (sealed master secrets, feature
// switches).
type SettingStore interface {
	Setting(key string) ([]byte, error) // ENotFound when unset
	PutSetting(key string, value []byte) error
}

// AuditStore is the audit log. AppendAudit assigns Seq, PrevHash and Hash
// under the chain's lock, so concurrent writers (several replicas on
// PostgreSQL) still produce one linear chain.
type AuditStore interface {
	AppendAudit(e *AuditEvent) error
	// AppendAudits appends events in order; the result equals AppendAudit
	// for each.
	AppendAudits(es []*AuditEvent) error
	ListAudit(f AuditFilter) ([]*AuditEvent, error)
	// LockAudit takes the audit chain's lock now, as the transaction's
	// first append would, and holds it until the transaction ends: every
	// transaction that appends an event and committed before is visible
	// to what this one reads afterwards, and none that appends commits
	// until this one ends. The CRL is signed under it (internal/service/pki).
	LockAudit() error
}
