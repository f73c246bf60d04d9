package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLISecretAnswers: `lanyard user secret-answers show|unlock|reset`
// against a real server. Wrong answers in Remote Self-Service lock the
// user's answers; an operator sees the lock, unlocks (a second unlock is a
// conflict) and resets them; an operator cannot touch an administrator's.
func TestCLISecretAnswers(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr)
	defer stop()
	base := "http://" + addr
	tok, _ := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	admin := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=" + base, "LANYARD_TOKEN=" + strings.TrimSpace(string(tok))}}

	admin.must(0, "user", "create", "uma", "--email", "uma@example.com")
	admin.must(0, "user", "create", "otto", "--email", "otto@example.com", "--role", "operator", "--role", "user")
	uma := strings.TrimSpace(admin.must(0, "token", "create", "--user", "uma", "--ttl", "1h"))
	otto := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=" + base, "LANYARD_TOKEN=" + strings.TrimSpace(admin.must(0, "token", "create", "--user", "otto", "--ttl", "1h"))}}

	var info struct {
		Questions []string `json:"questions"`
	}
	post(t, "GET", base+"/api/v1/me/secret-questions", uma, nil, &info)
	answers := []map[string]string{}
	for i, q := range info.Questions[:3] {
		answers = append(answers, map[string]string{"question": q, "answer": "answer " + string(rune('a'+i))})
	}
	if code := post(t, "PUT", base+"/api/v1/me/secret-questions", uma, map[string]any{"answers": answers}, nil); code != 200 {
		t.Fatalf("setting uma's answers: %d", code)
	}
	if out := fields(otto.must(0, "user", "secret-answers", "show", "uma")); !strings.Contains(out, "answered: 3") || !strings.Contains(out, "locked: no") {
		t.Fatalf("show: %q", out)
	}
	// Five wrong answers in Remote Self-Service lock them.
	for range 5 {
		var q struct {
			Questions []string `json:"questions"`
			Ticket    string   `json:"ticket"`
		}
		post(t, "POST", base+"/api/v1/rss/questions", "", map[string]string{"login": "uma"}, &q)
		wrong := []map[string]string{}
		for _, text := range q.Questions {
			wrong = append(wrong, map[string]string{"question": text, "answer": "wrong"})
		}
		if code := post(t, "POST", base+"/api/v1/rss/session", "", map[string]any{"login": "uma", "ticket": q.Ticket, "answers": wrong}, nil); code != 401 {
			t.Fatalf("wrong answers: %d, want 401", code)
		}
	}
	if out := fields(otto.must(0, "user", "secret-answers", "show", "uma")); !strings.Contains(out, "locked: since") {
		t.Fatalf("show after 5 wrong: %q", out)
	}
	if out := fields(otto.must(0, "user", "secret-answers", "unlock", "uma")); !strings.Contains(out, "locked: no") || !strings.Contains(out, "wrong in a row: 0") {
		t.Fatalf("unlock: %q", out)
	}
	if _, errOut, code := otto.run("", "user", "secret-answers", "unlock", "uma"); code != 1 || !strings.Contains(errOut, "not locked") {
		t.Fatalf("second unlock: exit %d %q", code, errOut)
	}
	if out := otto.must(0, "user", "secret-answers", "reset", "uma", "--output", "json"); !strings.Contains(out, `"set": false`) {
		t.Fatalf("reset: %q", out)
	}
	if _, errOut, code := otto.run("", "user", "secret-answers", "reset", "admin"); code != 1 || !strings.Contains(errOut, "staff") {
		t.Fatalf("operator resets the administrator: exit %d %q", code, errOut)
	}
	if _, _, code := otto.run("", "user", "secret-answers", "reset"); code != 2 {
		t.Fatalf("reset without a login: exit %d, want 2 (usage)", code)
	}
}

// fields is out with every run of white space one space.
func fields(out string) string { return strings.Join(strings.Fields(out), " ") }

// post sends a JSON request with a bearer token ("" = none) and decodes
// the answer into out when it is not nil; it returns the status.
func post(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, url, &body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}
