package aircard

import (
	"errors"
	"fmt"
	"strings"
)

// KEK is a key-encryption key: it wraps each card's data key. Wrap and
// Unwrap are safe for concurrent use. A KEK that holds resources (a PKCS#11
// session) also implements io.Closer.
type KEK interface {
	// Wrap encrypts plaintext (a data key) under the KEK.
	Wrap(plaintext []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned: an error matching ErrWrongKEK
	// when it was wrapped under another KEK, ErrCorrupt when it is
	// damaged.
	Unwrap(wrapped []byte) ([]byte, error)
	// String names the KEK for logs, without any secret.
	String() string
}

// Errors of KEKs and sealed card files; test them with errors.Is.
var (
	// ErrWrongKEK: the data key was wrapped under a different KEK.
	ErrWrongKEK = errors.New("aircard: wrapped under a different key-encryption key")
	// ErrCorrupt: a wrapped key or a card file is damaged or not one.
	ErrCorrupt = errors.New("aircard: corrupt or not an AirCard file")
)

// OpenKEK opens the KEK that spec names:
//
//	file:PATH
//	    32 random bytes in PATH (created with mode 0600 when missing),
//	    AES-256-GCM in process.
//	pkcs11:module=PATH;token=LABEL;key=LABEL;pin-env=VAR
//	pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH
//	    an AES-256 key in a PKCS#11 token (an HSM), generated there,
//	    sensitive and not extractable, when the token has no secret key
//	    with that label; wrapping is CKM_AES_GCM inside the token. The
//	    user PIN comes from the environment variable or the file (its
//	    first line).
func OpenKEK(spec string) (KEK, error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	switch {
	case !ok || rest == "":
		return nil, fmt.Errorf("aircard: KEK %q: want file:PATH or pkcs11:module=PATH;token=LABEL;key=LABEL;pin-env=VAR (or pin-file=PATH)", spec)
	case scheme == "file":
		return OpenFileKEK(rest)
	case scheme == "pkcs11":
		cfg, err := parsePKCS11Spec(rest)
		if err != nil {
			return nil, err
		}
		return OpenPKCS11KEK(cfg)
	}
	return nil, fmt.Errorf("aircard: KEK %q: unknown kind %q (file or pkcs11)", spec, scheme)
}
