package policy

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Defaults returns the settings of a new policy. The choices aim at the
// common first deployment: employees issue their own PIV cards with a
// smart card logon certificate and may add e-mail and signing certificates,
// nothing on a card is deleted unless an administrator asks for it, and no
// secret is sent anywhere by default. Every call returns fresh slices, so
// callers may modify the result.
func Defaults() lanyard.PolicySettings {
	return lanyard.PolicySettings{
		Workflow: lanyard.WorkflowSettings{
			// Self-Service is the point of the product: users register the
			// blank cards they are handed while issuing them (guide: the
			// Admin PIN field, the card's current one, appears for cards
			// not yet in Lanyard).
			AllowUserAddCards: true,
			// Certificates already on a card belong to some other system;
			// registering them in Lanyard's inventory is a decision the
			// administrator makes explicitly, so both tracking options
			// start off.
			SearchTrackedCertificates: false,
			AllowUserSelectTracked:    false,
			// Users issue their own cards and choose among the optional
			// certificates the administrator offers.
			IssueCard:                  true,
			SelectOptionalCertificates: true,
			// The same choice when the card is updated later: a user who
			// could pick optional certificates at issue may add them then.
			SelectOptionalOnUpdate: true,
			// Updating without asking runs key generation while the user
			// works; the administrator turns it on once users know.
			AutoUpdateOnConnect: false,
			// AirCard needs the AirCard service to be deployed and reachable
			// from workstations; it stays off until that is done.
			IssueAirCard: false,
			// After issue, owners look after their own cards: the help
			// desk's most common calls (forgotten PIN, card left at home or
			// lost) are answered in Self-Service. A temporary replacement
			// card needs a stock of cards at hand, so it is the
			// administrator's choice.
			IssuedCardOps: lanyard.IssuedCardOperations{
				ChangePIN: true, ResetPIN: true, Disable: true, Enable: true, Revoke: true, Clear: true,
				TemporaryReplacement: false,
			},
			// The help desk resets PINs and answers offline unblock calls,
			// after checking the caller's secret answers: a voice on the
			// phone is not an identity.
			Administrator: lanyard.AdministratorPermissions{ResetUserPIN: true, UnblockOffline: true, ValidateAnswers: true},
			// A temporary card stands in while the original is looked for.
			TemporaryCardValidityDays: lanyard.DefaultTemporaryCardValidityDays,
		},
		Issuance: lanyard.IssuanceSettings{
			// Initializing deletes everything on the card (guide: "all card
			// contents is deleted"); that must be an explicit choice.
			InitializeCard: false,
			Initialization: lanyard.InitializationSettings{
				// Zero means "the card type's value": the card type is where
				// the administrator describes what the hardware supports.
				PINRetries:   0,
				PUKRetries:   0,
				PINMinLength: 0,
				PINMaxLength: 0,
				// The card type decides between its default key and a key
				// diversified per card (docs/architecture.md, "Principles": the
				// server alone holds card admin keys).
				AdminKey: lanyard.AdminKeyFromCardType,
				// Every issued card gets its own random PUK, kept sealed on
				// the server (docs/security.md, "Cards"); this cannot be
				// turned off.
				RandomPUK: true,
			},
			// Users choose their own PIN unless the administrator wants
			// generated ones.
			RandomUserPIN: false,
			RandomPIN: lanyard.RandomPINSettings{
				// Eight digits: the longest PIN every PIV card accepts
				// (SP 800-73-4 part 2, 3.2.1 limits PINs to 8 bytes) and one
				// that PIN pads and phones can type.
				Length: 8,
				Groups: []lanyard.PINCharGroup{lanyard.PINDigits},
				// Shown once to the user who issued the card; mailing a PIN
				// in clear text is an opt-in.
				ShowToUser: true,
				// Staff issuing for someone else never see it (docs/security.md,
				// "Cards"): the user gets it at their next login.
				ShowToAdmin: false,
				MailTo:      lanyard.PINMailNobody,
			},
			// One card plus one spare (for example a replacement being
			// issued before the old card is revoked).
			MaxCardsPerUser: 2,
			// A software store's key container password cannot be reset
			// (guide), so the rules ask for one that is hard to guess but
			// can be remembered: eight characters of three kinds.
			KeyPassword: lanyard.KeyPasswordSettings{Always: false, MinLength: 8, MinClasses: 3},
		},
		Documents: lanyard.DocumentsSettings{
			// No paperwork unless the organization's regulations require it;
			// when they do, documents are uploaded in Self-Service.
			Check:   lanyard.DocsNone,
			Channel: lanyard.DocsViaLanyard,
		},
		Certificates: lanyard.CertificateSettings{
			// Smart card logon is why most organizations issue cards; e-mail
			// protection and document signing are offered, not imposed.
			Required: []string{"smartcard-logon"},
			Optional: []string{"secure-email", "document-signing"},
		},
		// Hardware PIV cards and tokens work everywhere without extra
		// components; each virtual kind needs its own deployment first.
		AllowedCards: []string{"piv"},
		Notifications: lanyard.NotificationsSettings{
			// Users waiting for an approval should hear about it rather
			// than poll Self-Service (guide: "Card issue approved").
			NotifyUser: true,
			// Card Monitor: warn a month ahead, remind weekly.
			ExpiryWarningDays: lanyard.DefaultExpiryWarningDays,
			ExpiryResendDays:  lanyard.DefaultExpiryResendDays,
		},
		Authentication: lanyard.AuthenticationSettings{
			SecretQuestions: lanyard.SecretQuestionSettings{
				// Questions most people answer the same way for years and
				// that a colleague does not simply know; the administrator
				// replaces them with the organization's own.
				Questions: []string{
					"What was the name of your first pet?",
					"In which city were you born?",
					"What was the name of your first school?",
					"What is your favourite book?",
					"What was the make of your first car?",
					"What is your mother's maiden name?",
				},
				// Three answers stand between a caller and a new PIN: each
				// is weak alone (the argon2id hash and the lock below make
				// guessing slow), together they are what a help desk asks.
				Asked:           3,
				MinAnswerLength: 3,
				// Five wrong answers in a row lock the answers until an
				// operator has spoken with the user: a person who forgot an
				// answer gets a few tries, a guesser does not.
				WrongBeforeLock: 5,
			},
		},
	}
}
