package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// secretAnswerCommands are the help desk's actions on a user's secret
// answers (docs/lifecycle.md, "Secret questions").
func secretAnswerCommands() []command {
	return []command{
		{"user secret-answers show", "user secret-answers show LOGIN", "whether a user's secret answers are set and locked", secretAnswersShow},
		{"user secret-answers reset", "user secret-answers reset LOGIN", "delete a user's secret answers (the user sets new ones)", secretAnswersReset},
		{"user secret-answers unlock", "user secret-answers unlock LOGIN", "unlock a user's secret answers after too many wrong answers", secretAnswersUnlock},
	}
}

func secretAnswersShow(ctx context.Context, args []string) error {
	return secretAnswersCall(ctx, "user secret-answers show", args, http.MethodGet, "")
}

func secretAnswersReset(ctx context.Context, args []string) error {
	return secretAnswersCall(ctx, "user secret-answers reset", args, http.MethodDelete, "")
}

func secretAnswersUnlock(ctx context.Context, args []string) error {
	return secretAnswersCall(ctx, "user secret-answers unlock", args, http.MethodPost, "/unlock")
}

// secretAnswersCall sends method to LOGIN's secret-answers resource (plus
// suffix) and prints the status the server answers with.
func secretAnswersCall(ctx context.Context, name string, args []string, method, suffix string) error {
	cmd := newClientCmd(name)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var st apiv1.SecretAnswersStatus
	if _, err := c.Do(ctx, method, "/api/v1/users/"+client.Esc(pos[0])+"/secret-answers"+suffix, nil, &st); err != nil {
		return err
	}
	locked := "no"
	if st.Locked {
		locked = "since " + st.LockedAt.Format(time.RFC3339)
	}
	return printOne(&cmd.clientFlags, &st, [][2]string{
		{"login", st.Login}, {"set", fmt.Sprint(st.Set)}, {"answered", fmt.Sprint(st.Answered)},
		{"wrong in a row", fmt.Sprint(st.Failures)}, {"locked", locked},
	})
}
