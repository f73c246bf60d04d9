package webtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// Tests play the authenticator app of the staff accounts they log in
// (staff always need a second factor): the first login enrolls an app
// and RememberTOTP keeps its key, by server URL and login, so that later
// logins, in any browser or client of the test binary, can type a code.
var totpApps = struct {
	mu   sync.Mutex
	apps map[string]*totpApp // by base URL + " " + login
}{apps: map[string]*totpApp{}}

type totpApp struct {
	secret string // base32
	last   int64  // the newest time step a code was made for
}

// RememberTOTP keeps login's authenticator app key (base32) at the server
// base, for TOTPCode.
func RememberTOTP(base, login, secret string) {
	totpApps.mu.Lock()
	defer totpApps.mu.Unlock()
	totpApps.apps[base+" "+login] = &totpApp{secret: strings.ReplaceAll(secret, " ", "")}
}

// KnowsTOTP reports whether RememberTOTP has login's key at base.
func KnowsTOTP(base, login string) bool {
	totpApps.mu.Lock()
	defer totpApps.mu.Unlock()
	return totpApps.apps[base+" "+login] != nil
}

// TOTPCode is a code of login's authenticator app at base that no earlier
// call returned. The server accepts each 30-second step once (replay
// protection), and accepts the codes of the steps either side of the
// current one (clock skew, identity's totpSkew, as RFC 6238 section 5.2
// allows): a second code within one step is the next step's, given at
// once, and only a third waits, until the next step begins.
func TOTPCode(tb testing.TB, base, login string) string {
	tb.Helper()
	totpApps.mu.Lock()
	app := totpApps.apps[base+" "+login]
	if app == nil {
		totpApps.mu.Unlock()
		tb.Fatalf("webtest: no authenticator app key for %s at %s (RememberTOTP)", login, base)
	}
	period := int64(identity.TOTPPeriod / time.Second)
	step := max(time.Now().Unix()/period, app.last+1)
	app.last = step
	secret := app.secret
	totpApps.mu.Unlock()
	at := time.Unix(step*period, 0)
	// Accepted once the current step is at least step-1.
	if d := time.Until(at.Add(-identity.TOTPPeriod)); d > 0 {
		time.Sleep(d + 100*time.Millisecond)
	}
	code, err := identity.TOTPCode(secret, at)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// Login logs login in through the API as the login page does, second
// factor included (enrolling an authenticator app on the first staff
// login), and returns the session cookie ("name=value") and the session.
func Login(tb testing.TB, base, login, password string) (cookie string, info apiv1.SessionInfo) {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	status, body, res := postJSON(tb, c, base+"/api/v1/session", map[string]string{"login": login, "password": password})
	if status == http.StatusAccepted {
		var pending apiv1.LoginPending
		if err := json.Unmarshal(body, &pending); err != nil {
			tb.Fatal(err)
		}
		if pending.SecondFactor == identity.SecondFactorEnroll {
			RememberTOTP(base, login, pending.Secret)
		}
		for try := 0; ; try++ {
			status, body, res = postJSON(tb, c, base+"/api/v1/session/second-factor", map[string]string{"code": TOTPCode(tb, base, login)})
			// A code of this step used outside TOTPCode (a step-up in the
			// test): the next step's code goes.
			if status == http.StatusUnauthorized && strings.Contains(string(body), "already used") && try == 0 {
				continue
			}
			break
		}
	}
	if status != http.StatusCreated {
		tb.Fatalf("login %s: %d %s", login, status, body)
	}
	if err := json.Unmarshal(body, &info); err != nil {
		tb.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if strings.HasSuffix(ck.Name, "lanyard_session") { // with or without a __Host- prefix
			return ck.Name + "=" + ck.Value, info
		}
	}
	tb.Fatalf("login %s: no session cookie", login)
	return "", info
}

func postJSON(tb testing.TB, c *http.Client, url string, v any) (int, []byte, *http.Response) {
	tb.Helper()
	b, _ := json.Marshal(v)
	res, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body, res
}
