package lanyard

// Features are the server-wide switches of the virtual card kinds that
// live on workstations, like the guide's Configuration Wizard options
// ("Create TPM virtual smart card"). Both are off until an administrator
// turns them on: a TPM-bound credential is a decision of the
// organization, not a default. The catalog keeps them; virtual card
// creation checks them.
type Features struct {
	TPMVirtualCard     bool
	PlatformCredential bool
}
