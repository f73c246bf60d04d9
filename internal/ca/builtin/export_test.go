package builtin

import "crypto"

// IssuingKeyForTest exposes the issuing key to the benchmarks, which
// compare Sign with a bare x509.CreateCertificate under the same key.
func (c *CA) IssuingKeyForTest() crypto.Signer { return c.signer }
