package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// rssSignIn sets login's secret answers (with token) and signs in to
// Remote Self-Service with them; it returns the RSS cookie and session.
func (e *env) rssSignIn(login, token string) (cookie string, sess apiv1.RSSSession) {
	e.t.Helper()
	var info apiv1.SecretQuestionsInfo
	e.must(200, "GET", "/api/v1/me/secret-questions", token, nil).json(&info)
	answer := map[string]string{}
	var set []apiv1.SecretAnswerInput
	for i, q := range info.Questions[:info.Required] {
		answer[q] = "answer number " + string(rune('a'+i))
		set = append(set, apiv1.SecretAnswerInput{Question: q, Answer: answer[q]})
	}
	e.must(200, "PUT", "/api/v1/me/secret-questions", token, apiv1.SecretAnswersInput{Answers: set})
	var q apiv1.RSSQuestions
	e.must(200, "POST", "/api/v1/rss/questions", "", apiv1.RSSQuestionsInput{Login: login}).json(&q)
	in := apiv1.RSSSignInInput{Login: login, Ticket: q.Ticket}
	for _, text := range q.Questions {
		in.Answers = append(in.Answers, apiv1.SecretAnswerInput{Question: text, Answer: answer[text]})
	}
	r := e.must(201, "POST", "/api/v1/rss/session", "", in)
	r.json(&sess)
	cookie = r.setCookie("lanyard_rss")
	if cookie == "" || sess.CSRFToken == "" {
		e.t.Fatalf("RSS sign-in: cookie %q, session %+v", cookie, sess)
	}
	return cookie, sess
}

// TestRSSSessionRefusedElsewhere: a Remote Self-Service session reaches
// the Remote Self-Service routes and nothing else: every other route that
// needs authentication answers 401, the pages send it to the login form,
// and no browser session or API token reaches the RSS routes.
func TestRSSSessionRefusedElsewhere(t *testing.T) {
	e := mustEnv(t)
	alice := e.mustUser("alice")
	cookie, sess := e.rssSignIn("alice", alice)
	rss := []string{"Cookie", cookie, "X-CSRF-Token", sess.CSRFToken}

	var cards []apiv1.RSSCard
	e.must200(e.do("GET", "/api/v1/rss/cards", "", nil, rss...)).json(&cards)
	if len(cards) != 0 {
		t.Errorf("alice has no cards: %+v", cards)
	}
	var who apiv1.RSSSession
	e.must200(e.do("GET", "/api/v1/rss/session", "", nil, rss...)).json(&who)
	if who.Login != "alice" || who.CSRFToken != sess.CSRFToken {
		t.Errorf("RSS session: %+v", who)
	}

	checked := 0
	for _, rt := range web.RouteInfos(e.srv) {
		key := rt.Method + " " + rt.Path
		if rt.Public || strings.HasPrefix(rt.Path, "/api/v1/rss/") || web.RSSAlso[key] {
			continue
		}
		p := rt.Path
		for strings.Contains(p, "{") {
			i, j := strings.Index(p, "{"), strings.Index(p, "}")
			p = p[:i] + "1" + p[j+1:]
		}
		if r := e.do(rt.Method, p, "", "{}", rss...); r.status != http.StatusUnauthorized {
			t.Errorf("%s with a Remote Self-Service session: %d %s", key, r.status, r.body)
		}
		checked++
	}
	if checked < 50 {
		t.Errorf("only %d routes checked; the sweep is broken", checked)
	}
	// Pages take it for no session.
	for _, page := range []string{"/", "/secret-questions", "/console/"} {
		req, _ := http.NewRequest("GET", e.url+page, nil)
		req.Header.Set("Cookie", cookie)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("page %s with an RSS session: %d → %q", page, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// The RSS routes take no token and no browser session.
	if r := e.do("GET", "/api/v1/rss/cards", alice, nil); r.status != http.StatusUnauthorized {
		t.Errorf("RSS cards with an API token: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", strings.Replace(cookie, "lanyard_rss=", "lanyard_session=", 1)); r.status != http.StatusUnauthorized {
		t.Errorf("the RSS secret as a session cookie: %d", r.status)
	}
	// Signing out needs the CSRF token, and ends the session.
	if r := e.do("DELETE", "/api/v1/rss/session", "", nil, "Cookie", cookie); r.status != http.StatusForbidden {
		t.Errorf("sign-out without the CSRF token: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/rss/session", "", nil, rss...); r.status != http.StatusNoContent {
		t.Errorf("sign-out: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/rss/cards", "", nil, rss...); r.status != http.StatusUnauthorized {
		t.Errorf("RSS cards after sign-out: %d", r.status)
	}
}

func (e *env) must200(r *resp) *resp {
	e.t.Helper()
	if r.status != http.StatusOK {
		e.t.Fatalf("status %d: %s", r.status, r.body)
	}
	return r
}

// TestSecretAnswersAPI: operators reset and unlock plain users' secret
// answers through the API, never an administrator's; a user cannot.
func TestSecretAnswersAPI(t *testing.T) {
	e := mustEnv(t)
	alice := e.mustUser("alice")
	op := e.mustUser("olga", "operator", "user")
	e.rssSignIn("alice", alice)
	var st apiv1.SecretAnswersStatus
	e.must(200, "GET", "/api/v1/users/alice/secret-answers", op, nil).json(&st)
	if !st.Set || st.Answered != 3 || st.Locked {
		t.Fatalf("status: %+v", st)
	}
	if r := e.do("POST", "/api/v1/users/alice/secret-answers/unlock", op, nil); r.status != http.StatusConflict {
		t.Errorf("unlock when not locked: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/users/admin/secret-answers", op, nil); r.status != http.StatusForbidden {
		t.Errorf("operator resets the administrator: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/users/olga/secret-answers", alice, nil); r.status != http.StatusForbidden {
		t.Errorf("a user resets an operator: %d %s", r.status, r.body)
	}
	e.must(200, "DELETE", "/api/v1/users/alice/secret-answers", op, nil).json(&st)
	if st.Set {
		t.Errorf("after reset: %+v", st)
	}
}
