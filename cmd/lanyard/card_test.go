//go:build integration

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/pcsc"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// TestCardEmulate runs `lanyard card emulate` as a user would and checks,
// through pcscd with our PC/SC transport and PIV client, that the card
// appears, answers as a PIV card, keeps its identity across restarts from
// its sealed state file, and disappears on interrupt.
func TestCardEmulate(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	bin := buildBinary(t)
	state := filepath.Join(t.TempDir(), "card.state")

	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	names, err := pc.Readers()
	if err != nil {
		t.Fatal(err)
	}
	reader, ok := vpcdtest.Reader(names, port)
	if !ok {
		t.Fatalf("no vpcd reader for port %d among %q", port, names)
	}

	emulate := func(pass string) (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(bin, "card", "emulate", "--vpcd", addr, "--state", state)
		cmd.Env = append(os.Environ(), "LANYARD_CARD_PASSPHRASE="+pass)
		var out strings.Builder
		cmd.Stderr = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	serialOf := func() uint32 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			k, err := pc.Connect(reader, false)
			if err == nil {
				defer k.Close()
				c, err := piv.New(k, piv.Config{Rand: rand.Reader})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Select(context.Background()); err != nil {
					t.Fatalf("SELECT through pcscd: %v", err)
				}
				s, err := c.Serial(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the emulated card did not appear in %q: %v", reader, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("card emulate after interrupt: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("card emulate did not stop on interrupt")
		}
		// The card leaves the reader.
		deadline := time.Now().Add(5 * time.Second)
		for {
			k, err := pc.Connect(reader, false)
			if errors.Is(err, pcsc.ErrNoCard) {
				return
			}
			if err == nil {
				k.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("the card is still in the reader after interrupt: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	cmd, out := emulate("correct horse")
	first := serialOf()
	stop(cmd)
	if !strings.Contains(out.String(), "serial="+strconv.FormatUint(uint64(first), 10)) {
		t.Errorf("the log does not name serial %d:\n%s", first, out)
	}
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v", err, st.Mode().Perm())
	}

	// Same state file, same card.
	cmd, _ = emulate("correct horse")
	if again := serialOf(); again != first {
		t.Fatalf("serial after restart %d, want %d", again, first)
	}
	stop(cmd)

	// A wrong passphrase is refused, and the card never appears.
	cmd, out = emulate("wrong horse")
	err = cmd.Wait()
	if err == nil || !strings.Contains(strings.ToLower(out.String()), "passphrase") {
		t.Fatalf("wrong passphrase: %v\n%s", err, out)
	}
}
