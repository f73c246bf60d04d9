package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair (posix_openpt, unlockpt, ptsname):
// what a user's terminal is to the CLI.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal("opening a pseudo-terminal (/dev/ptmx), which every Linux test machine has:", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatal("unlockpt:", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatal("ptsname:", errno)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// echoOn reads whether the terminal tty echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	var tio syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); errno != 0 {
		t.Fatal("tcgetattr:", errno)
	}
	return tio.Lflag&syscall.ECHO != 0
}

// TestPrompterHidesSecretsOnATerminal: the prompter of the key recovery
// commands (account passwords, PKCS #12 passwords) turns the terminal's
// echo off while the answer is typed, and gives the answer; before, a
// password typed stayed on the screen.
func TestPrompterHidesSecretsOnATerminal(t *testing.T) {
	master, tty := openPTY(t)
	if !echoOn(t, tty) {
		t.Fatal("a new terminal does not echo")
	}
	type answer struct {
		s   string
		err error
	}
	got := make(chan answer, 1)
	go func() {
		s, err := promptFrom(tty, tty)("Your account password:")
		got <- answer{s, err}
	}()
	// The answer is typed once the prompter waits for it, echo off.
	for deadline := time.Now().Add(5 * time.Second); echoOn(t, tty); {
		if time.Now().After(deadline) {
			t.Fatal("the terminal still echoes while the password is asked")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := master.Write([]byte("hunter2 secret\n")); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.s != "hunter2 secret" {
		t.Fatalf("prompter read %q, %v", a.s, a.err)
	}
	if !echoOn(t, tty) {
		t.Error("the terminal's echo is not restored")
	}
}

// TestPrompterReadsLinesFromAPipe: from a pipe (a script) the answers are
// lines, one per prompt, as the README's examples give them.
func TestPrompterReadsLinesFromAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString("first password\r\n123456\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line := promptFrom(r, os.Stderr)
	for _, want := range []string{"first password", "123456"} {
		if got, err := line("?"); err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := line("more?"); err == nil {
		t.Fatal("read past the end of standard input")
	}
}
