package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func auditCommands() []command {
	return []command{
		{"audit verify", "audit verify", "verify the audit log's hash chain; exit 1 and name the first bad event if it was modified or cut", auditVerify},
		{"audit list", "audit list [--after SEQ] [--action A] [--object-type T] [--object-id ID] [--limit N]", "read the audit log", auditList},
	}
}

func auditVerify(ctx context.Context, args []string) error {
	cmd := newClientCmd("audit verify")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var rep audit.Report
	if err := c.Get(ctx, "/api/v1/audit/verify", &rep); err != nil {
		return err
	}
	if cmd.output == "json" {
		if err := printJSON(&rep); err != nil {
			return err
		}
	} else if rep.OK {
		fmt.Printf("audit log intact: %d events\n", rep.Events)
	}
	if !rep.OK {
		return lanyard.Errorf("audit_broken", "audit log broken at event %d: %s", rep.FirstBad, rep.Problem)
	}
	return nil
}

func auditList(ctx context.Context, args []string) error {
	var after int64
	var action, otype, oid string
	var limit int
	cmd := newClientCmd("audit list")
	cmd.Int64Var(&after, "after", 0, "events after this sequence number")
	cmd.StringVar(&action, "action", "", "action, e.g. cert.issue")
	cmd.StringVar(&otype, "object-type", "", "object type")
	cmd.StringVar(&oid, "object-id", "", "object id")
	cmd.IntVar(&limit, "limit", 100, "at most this many")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var evs []*lanyard.AuditEvent
	q := fmt.Sprintf("/api/v1/audit?after=%d&limit=%d&action=%s&object_type=%s&object_id=%s", after, limit, client.Esc(action), client.Esc(otype), client.Esc(oid))
	if err := c.Get(ctx, q, &evs); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, evs, []string{"SEQ", "TIME", "ACTOR", "ACTION", "OBJECT", "FROM"}, func(e *lanyard.AuditEvent) []string {
		return []string{strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339), e.Actor, e.Action, e.ObjectType + ":" + e.ObjectID, e.RemoteAddr}
	})
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
