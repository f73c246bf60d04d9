package piv

import "github.com/lanyard-cms/lanyard/internal/card/pivspec"

// Algorithm is a cryptographic mechanism identifier (SP 800-78-4 table
// 6-2, with YubiKey's additions); see pivspec for the values.
type Algorithm = pivspec.Algorithm
