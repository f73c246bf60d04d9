package main

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCommandsHideSecretsOnATerminal: `card reissue-store` (the key
// container password) and `card pin-setup` (the account password and the
// new PIN) turn the terminal's echo off while each secret is typed;
// before, they read standard input as it came and the secret stayed on
// the screen. The server is a closed address: each command fails only
// after it has read its secrets.
func TestCommandsHideSecretsOnATerminal(t *testing.T) {
	server := "http://" + freeAddr(t)
	for name, tc := range map[string]struct {
		run     func(ctx context.Context, args []string) error
		args    []string
		prompts []string // the start of each prompt
		secrets []string
	}{
		"card reissue-store": {cardReissueStore, []string{"7"}, []string{"Key container password"}, []string{"Store-pass-1"}},
		"card pin-setup":     {cardPINSetup, []string{"7", "--code", "000000"}, []string{"Password:", "New PIN:"}, []string{"account password", "24681357"}},
	} {
		t.Run(name, func(t *testing.T) {
			master, tty := openPTY(t)
			prompts := promptLines(t)
			was := os.Stdin
			os.Stdin = tty
			defer func() { os.Stdin = was }()
			done := make(chan error, 1)
			go func() {
				done <- tc.run(context.Background(), append(tc.args, "--server", server, "--token", "test-token"))
			}()
			for i, secret := range tc.secrets {
				waitPrompt(t, prompts, tc.prompts[i])
				for deadline := time.Now().Add(3 * time.Second); echoOn(t, tty); {
					if time.Now().After(deadline) {
						t.Fatalf("the terminal still echoes while %s asks %q", name, tc.prompts[i])
					}
					time.Sleep(time.Millisecond)
				}
				if _, err := master.Write([]byte(secret + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("the command succeeded against a closed address")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the command did not end after its secrets were typed")
			}
		})
	}
}

// promptLines sends what the command writes to standard error (its
// prompts), line by line, until the test ends.
func promptLines(t *testing.T) <-chan string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	was := os.Stderr
	os.Stderr = w
	t.Cleanup(func() { os.Stderr = was; w.Close() })
	lines := make(chan string, 16)
	go func() {
		defer r.Close()
		in := bufio.NewScanner(r)
		for in.Scan() {
			lines <- in.Text()
		}
	}()
	return lines
}

// waitPrompt waits for a line starting with prompt.
func waitPrompt(t *testing.T, lines <-chan string, prompt string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.HasPrefix(l, prompt) {
				return
			}
		case <-timeout:
			t.Fatalf("no prompt %q", prompt)
		}
	}
}
