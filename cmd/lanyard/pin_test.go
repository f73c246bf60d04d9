package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLIPINChangeAndReset: on make run's demo (its agent and emulated
// card), `card pin-change` reads the PINs from standard input only (a PIN
// flag is a usage error), says the tries left after a wrong current PIN
// and changes the PIN; `card pin-reset` with the owner's secret answers
// (--answers-file) resets it with the card's own PUK, and the changed PIN
// no longer works.
func TestCLIPINChangeAndReset(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	server := "http://" + addr
	c, _, token, _ := demoCLI(t, bin, data, addr)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(c.must(0, "card", "list", "--connected"), "Lanyard demo reader") {
			break
		}
	}
	serial := connectedSerial(t, c, "Lanyard demo reader")
	out := c.must(0, "card", "issue", "--card", serial, "--user-pin", "24682468")
	m := regexp.MustCompile(`(?m)^Card (\d+): `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("card issue printed:\n%s", out)
	}
	id := m[1]
	pinChange := func(stdin string, want int) string {
		t.Helper()
		out, errOut, code := c.run(stdin, "card", "pin-change", id)
		if code != want {
			t.Fatalf("card pin-change: exit %d, want %d\n%s\n%s", code, want, out, errOut)
		}
		if strings.Contains(out+errOut, "24682468") || strings.Contains(out+errOut, "13571357") {
			t.Fatalf("card pin-change printed a PIN:\n%s%s", out, errOut)
		}
		return errOut
	}
	if _, _, code := c.run("", "card", "pin-change", id, "--new-pin", "13571357"); code != 2 {
		t.Fatalf("a PIN flag: exit %d, want 2 (usage)", code)
	}
	if errOut := pinChange("00000000\n13571357\n13571357\n", 1); !strings.Contains(errOut, "tries left") {
		t.Fatalf("a wrong current PIN: %s", errOut)
	}
	if errOut := pinChange("24682468\n13571357\n24242424\n", 1); !strings.Contains(errOut, "differ") {
		t.Fatalf("two different new PINs: %s", errOut)
	}
	pinChange("24682468\n13571357\n13571357\n", 0)
	// The old PIN is gone: changing from it again is refused by the card.
	if errOut := pinChange("24682468\n11112222\n11112222\n", 1); !strings.Contains(errOut, "wrong") {
		t.Fatalf("the old PIN: %s", errOut)
	}

	// Reset with the secret answers, set through the API as Self-Service does.
	questions := []string{"What was the name of your first pet?", "In which city were you born?", "What was the name of your first school?"}
	var answers []map[string]string
	for _, q := range questions {
		answers = append(answers, map[string]string{"question": q, "answer": "demo answer"})
	}
	body, _ := json.Marshal(map[string]any{"answers": answers})
	req, _ := http.NewRequest(http.MethodPut, server+"/api/v1/me/secret-questions", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("setting the secret answers: %v %v", err, resp)
	}
	resp.Body.Close()
	file := filepath.Join(t.TempDir(), "answers.json")
	b, _ := json.Marshal(answers)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := c.run("11223355\n11223355\n", "card", "pin-reset", id); code != 1 || !strings.Contains(errOut, "secret questions") {
		t.Fatalf("pin-reset without answers: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := c.run("11223355\n11223355\n", "card", "pin-reset", id, "--answers-file", file); code != 0 || !strings.Contains(errOut, "PIN reset") {
		t.Fatalf("pin-reset: exit %d\n%s\n%s", code, out, errOut)
	}
	if errOut := pinChange("13571357\n11112222\n11112222\n", 1); !strings.Contains(errOut, "wrong") {
		t.Fatalf("the PIN before the reset: %s", errOut)
	}
	pinChange("11223355\n24682468\n24682468\n", 0)
}
