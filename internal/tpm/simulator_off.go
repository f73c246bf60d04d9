//go:build notpmsimulator

package tpm

import "errors"

// openSimulator: this binary was built with the tag notpmsimulator, which
// leaves out the reference TPM (and its cgo and libcrypto).
func openSimulator(spec, seedFile string) (*TPM, error) {
	return nil, errors.New("tpm: " + spec + ": this binary was built without the TPM simulator (tag notpmsimulator)")
}
