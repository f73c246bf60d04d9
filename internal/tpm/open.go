package tpm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
)

// DefaultDevice is the kernel's TPM resource manager: transient objects
// and sessions are virtualised per open file, so several programs share
// the TPM without exhausting its few object slots.
const DefaultDevice = "/dev/tpmrm0"

// ErrNoTPM is returned by Open("auto") when the machine has no TPM the
// process can use.
var ErrNoTPM = errors.New("tpm: no TPM")

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("tpm: closed")

// Kind says what a TPM is.
type Kind string

// Kinds of TPM.
const (
	KindDevice    Kind = "device"    // a TPM character device, normally /dev/tpmrm0
	KindSwtpm     Kind = "swtpm"     // swtpm's Unix socket (unixio server)
	KindSimulator Kind = "simulator" // the in-process reference TPM; INSECURE
)

// TPM is an open TPM 2.0. It implements go-tpm's transport.TPM and is safe
// for concurrent use: commands are sent one at a time.
type TPM struct {
	spec string
	kind Kind

	mu     sync.Mutex
	conn   transport.TPMCloser
	closed bool
}

// Open opens the TPM that spec names:
//
//   - "" or "auto": /dev/tpmrm0 when it exists; otherwise an error
//     wrapping ErrNoTPM that says why;
//   - "device:PATH": a TPM character device (/dev/tpmrm0, /dev/tpm0);
//   - "swtpm:SOCKET": swtpm started with --server type=unixio,path=SOCKET
//     (and --flags startup-clear, so that it is started);
//   - "simulator:SEEDFILE": the reference TPM in this process, its
//     hierarchy seeds derived from the number in SEEDFILE (a random int64,
//     created with mode 0600 when missing), so that keys made under its
//     storage root key load again after a restart. INSECURE: whoever reads
//     SEEDFILE has every key; for tests and the demo only. One simulator
//     per process: a second Open of a simulator waits until the first is
//     closed. Its NV memory (dictionary-attack counter included) lives in
//     memory and starts afresh with each Open.
func Open(spec string) (*TPM, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "", "auto":
		if arg != "" {
			return nil, fmt.Errorf("tpm: %q: auto takes no argument", spec)
		}
		if _, err := os.Stat(DefaultDevice); err != nil {
			return nil, fmt.Errorf("%w: %s is not available (%v); is the kernel's TPM driver loaded and the TPM enabled in the firmware?", ErrNoTPM, DefaultDevice, err)
		}
		return openDevice("device:"+DefaultDevice, DefaultDevice)
	case "device":
		if arg == "" {
			return nil, fmt.Errorf("tpm: %q: device needs a path", spec)
		}
		return openDevice(spec, arg)
	case "swtpm":
		if arg == "" {
			return nil, fmt.Errorf("tpm: %q: swtpm needs the server socket's path", spec)
		}
		conn, err := linuxudstpm.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("tpm: opening swtpm socket %s: %w", arg, err)
		}
		return ready(&TPM{spec: spec, kind: KindSwtpm, conn: conn})
	case "simulator":
		if arg == "" {
			return nil, fmt.Errorf("tpm: %q: simulator needs a seed file", spec)
		}
		return openSimulator(spec, arg)
	}
	return nil, fmt.Errorf("tpm: %q: unknown TPM; want auto, device:PATH, swtpm:SOCKET or simulator:SEEDFILE", spec)
}

func openDevice(spec, path string) (*TPM, error) {
	conn, err := linuxtpm.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tpm: opening %s: %w", path, err)
	}
	return ready(&TPM{spec: spec, kind: KindDevice, conn: conn})
}

// ready checks that a freshly opened TPM answers, so that Open fails
// rather than the first real command.
func ready(t *TPM) (*TPM, error) {
	if _, err := t.property(propManufacturer); err != nil {
		t.Close()
		return nil, fmt.Errorf("tpm: %s does not answer TPM2_GetCapability: %w", t.spec, err)
	}
	return t, nil
}

// Send sends one command and returns the TPM's response.
func (t *TPM) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	return t.conn.Send(cmd)
}

// Close closes the TPM. For the simulator it shuts the TPM down, which
// lets the next Open of a simulator in this process go ahead.
func (t *TPM) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	return t.conn.Close()
}

// Spec returns the spec the TPM was opened with ("device:/dev/tpmrm0"
// for "auto").
func (t *TPM) Spec() string { return t.spec }

// Kind returns what the TPM is.
func (t *TPM) Kind() Kind { return t.kind }
