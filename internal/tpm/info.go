package tpm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// TPM properties read by Info (TPM 2.0 Library Part 2, 6.13 TPM_PT).
const (
	propManufacturer    = tpm2.TPMPTManufacturer
	propFirmware1       = tpm2.TPMPTFirmwareVersion1
	propFirmware2       = tpm2.TPMPTFirmwareVersion2
	propPermanent       = tpm2.TPMPTPermanent
	propLockoutCounter  = tpm2.TPMPTLockoutCounter
	propMaxAuthFail     = tpm2.TPMPTMaxAuthFail
	propLockoutInterval = tpm2.TPMPTLockoutInterval
	propLockoutRecovery = tpm2.TPMPTLockoutRecovery
)

// permanentInLockout is TPMA_PERMANENT's inLockout bit (Part 2, 8.6).
const permanentInLockout = 1 << 9

// Info describes a TPM: who made it, whether it can hold a virtual smart
// card's keys, and the state of its dictionary-attack protection.
type Info struct {
	Spec string `json:"spec"`
	Kind Kind   `json:"kind"`

	// Manufacturer is TPM_PT_MANUFACTURER as text: the vendor's four
	// ASCII characters (TCG Vendor ID Registry), trailing spaces and NULs
	// removed ("IFX", "STM", "MSFT", "IBM").
	Manufacturer string `json:"manufacturer"`
	// Firmware is TPM_PT_FIRMWARE_VERSION_1 and _2 as four 16-bit numbers
	// "a.b.c.d"; their meaning is the vendor's.
	Firmware string `json:"firmware"`

	// RSA2048 and RSA3072: TPM2_TestParms accepts RSA keys of that size.
	RSA2048 bool `json:"rsa2048"`
	RSA3072 bool `json:"rsa3072"`

	// LockoutCounter is the number of authorization failures the TPM
	// holds against DA-protected objects (TPM_PT_LOCKOUT_COUNTER);
	// MaxAuthFail the count at which it locks out (TPM_PT_MAX_AUTH_FAIL);
	// LockoutInterval the time after which one failure is forgotten;
	// LockoutRecovery the wait after a failed lockout authorization.
	LockoutCounter  uint32        `json:"lockout_counter"`
	MaxAuthFail     uint32        `json:"max_auth_fail"`
	LockoutInterval time.Duration `json:"lockout_interval"`
	LockoutRecovery time.Duration `json:"lockout_recovery"`
	// InLockout: TPMA_PERMANENT.inLockout, the TPM refuses authorizations
	// of DA-protected objects now.
	InLockout bool `json:"in_lockout"`
}

// Usable reports why the TPM cannot hold a TPM virtual smart card, or nil
// when it can: it answered, and it can create RSA 2048 keys.
func (i Info) Usable() error {
	if !i.RSA2048 {
		return fmt.Errorf("tpm: %s (%s) cannot create RSA 2048 keys", i.Spec, i.Manufacturer)
	}
	return nil
}

// Info asks the TPM about itself (TPM2_GetCapability, Part 3, 30.2;
// TPM2_TestParms, 30.3).
func (t *TPM) Info() (Info, error) {
	info := Info{Spec: t.spec, Kind: t.kind}
	props := map[tpm2.TPMPT]uint32{}
	for _, p := range []tpm2.TPMPT{propManufacturer, propFirmware1, propFirmware2, propPermanent,
		propLockoutCounter, propMaxAuthFail, propLockoutInterval, propLockoutRecovery} {
		v, err := t.property(p)
		if err != nil {
			return Info{}, err
		}
		props[p] = v
	}
	m := props[propManufacturer]
	info.Manufacturer = strings.TrimRight(string([]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}), " \x00")
	f1, f2 := props[propFirmware1], props[propFirmware2]
	info.Firmware = fmt.Sprintf("%d.%d.%d.%d", f1>>16, f1&0xFFFF, f2>>16, f2&0xFFFF)
	info.LockoutCounter = props[propLockoutCounter]
	info.MaxAuthFail = props[propMaxAuthFail]
	info.LockoutInterval = time.Duration(props[propLockoutInterval]) * time.Second
	info.LockoutRecovery = time.Duration(props[propLockoutRecovery]) * time.Second
	info.InLockout = props[propPermanent]&permanentInLockout != 0
	var err error
	if info.RSA2048, err = t.rsaSupported(2048); err != nil {
		return Info{}, err
	}
	if info.RSA3072, err = t.rsaSupported(3072); err != nil {
		return Info{}, err
	}
	return info, nil
}

// property reads one TPM property.
func (t *TPM) property(p tpm2.TPMPT) (uint32, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(p), PropertyCount: 1}.Execute(t)
	if err != nil {
		return 0, fmt.Errorf("tpm: TPM2_GetCapability(%#x): %w", uint32(p), err)
	}
	list, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return 0, fmt.Errorf("tpm: TPM2_GetCapability(%#x): %w", uint32(p), err)
	}
	for _, tp := range list.TPMProperty {
		if tp.Property == p {
			return tp.Value, nil
		}
	}
	return 0, fmt.Errorf("tpm: the TPM does not report property %#x", uint32(p))
}

// rsaSupported asks TPM2_TestParms whether the TPM takes unrestricted RSA
// keys of bits with the NULL scheme, as a virtual smart card's keys are.
func (t *TPM) rsaSupported(bits tpm2.TPMKeyBits) (bool, error) {
	_, err := tpm2.TestParms{Parameters: tpm2.TPMTPublicParms{
		Type: tpm2.TPMAlgRSA,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   bits,
		}),
	}}.Execute(t)
	var rc tpm2.TPMRC
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &rc):
		// TPM_RC_VALUE, TPM_RC_KEY_SIZE, ...: not supported.
		return false, nil
	}
	return false, fmt.Errorf("tpm: TPM2_TestParms: %w", err)
}
