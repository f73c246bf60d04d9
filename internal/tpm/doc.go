// Package tpm opens a TPM 2.0 for Lanyard: the machine's TPM through the
// kernel's resource manager (/dev/tpmrm0), a software TPM (swtpm) over its
// Unix socket, or the TCG reference TPM compiled into the process (the
// Microsoft simulator from go-tpm-tools), which is INSECURE and only for
// tests and the demo.
//
// A [TPM] is a go-tpm transport.TPM: the commands of TPM 2.0 Library Part
// 3 are built with github.com/google/go-tpm/tpm2 and sent through it. It
// serialises commands with a mutex, so one TPM may serve several callers;
// sequences of commands that must not interleave (a policy session and the
// command it authorizes) are the caller's to order, as with any TPM.
//
// [TPM.Info] is the agent's requirements check: a usable TPM is one that
// opens, answers TPM2_GetCapability and can create RSA 2048 keys
// (TPM2_TestParms).
//
// # Dictionary-attack protection
//
// A TPM counts failed authorizations of DA-protected objects (TPM 2.0
// Library Part 1, 19.8.6 "Dictionary Attack Protection"): after maxTries
// failures it refuses them all (TPM_RC_LOCKOUT) until recoveryTime seconds
// per failure have passed or the lockout hierarchy resets the counter.
// Operating systems provision real TPMs with values such as 32 tries and a
// recovery of 10 minutes; the reference simulator starts with 3 tries and
// 1000 s, which would lock the TPM before a PIV card's own retry counters
// (3 PIN + 3 PUK tries) run out. [Open] therefore sets a simulator to
// [SimulatorMaxTries] and [SimulatorRecovery], like a provisioned TPM.
// [TPM.SetDictionaryAttackParameters] does the same for tests on the
// simulator or swtpm; it needs the (empty) lockout authorization and is
// refused for a hardware TPM, whose parameters belong to the OS.
package tpm
