package tpm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// Dictionary-attack parameters Open gives a simulator: what operating
// systems provision real TPMs with, rather than the reference TPM's 3
// tries (see the package documentation).
const (
	SimulatorMaxTries        = 32
	SimulatorRecovery        = 10 * time.Minute
	SimulatorLockoutRecovery = 24 * time.Hour
)

// openSimulator starts the in-process reference TPM with its seeds derived
// from the number in seedFile. INSECURE: for tests and the demo only.
func openSimulator(spec, seedFile string) (*TPM, error) {
	seed, err := loadSeed(seedFile)
	if err != nil {
		return nil, err
	}
	// GetWithFixedSeedInsecure waits for any other simulator of this
	// process to be closed: the reference TPM is a global.
	sim, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		return nil, fmt.Errorf("tpm: starting the simulator: %w", err)
	}
	t, err := ready(&TPM{spec: spec, kind: KindSimulator, conn: transport.FromReadWriteCloser(sim)})
	if err != nil {
		return nil, err
	}
	if err := t.SetDictionaryAttackParameters(SimulatorMaxTries, SimulatorRecovery, SimulatorLockoutRecovery); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// loadSeed reads the simulator's seed, a decimal int64, from path, making
// the file (mode 0600, a random seed) when it does not exist.
func loadSeed(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSeed(path)
	}
	if err != nil {
		return 0, fmt.Errorf("tpm: simulator seed: %w", err)
	}
	seed, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("tpm: simulator seed file %s does not hold a decimal int64: %w", path, err)
	}
	return seed, nil
}

func createSeed(path string) (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	seed := int64(binary.BigEndian.Uint64(b[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process made it first: use theirs.
		return loadSeed(path)
	}
	if err != nil {
		return 0, fmt.Errorf("tpm: creating simulator seed file: %w", err)
	}
	_, err = fmt.Fprintf(f, "%d\n", seed)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("tpm: writing simulator seed file: %w", err)
	}
	return seed, nil
}
