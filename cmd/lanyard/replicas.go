package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

func replicaCommands() []command {
	return []command{
		{"replicas", "replicas [--json]", "list the cluster's replicas, the agents each holds and which runs each cluster-wide job", replicasList},
	}
}

// replicasList shows GET /api/v1/replicas: operators see which replicas
// run (and which are gone), where agents are connected, and which replica
// runs the CRL refresh, the Card Monitor or a directory sync.
func replicasList(ctx context.Context, args []string) error {
	cmd := newClientCmd("replicas")
	var asJSON bool
	cmd.BoolVar(&asJSON, "json", false, "print JSON (same as --output json)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var v apiv1.ClusterView
	if err := c.Get(ctx, "/api/v1/replicas", &v); err != nil {
		return err
	}
	if asJSON || cmd.output == "json" {
		return printJSON(&v)
	}
	return printCluster(os.Stdout, &v, time.Now())
}

// printCluster writes the replicas' table, then the jobs'.
func printCluster(w io.Writer, v *apiv1.ClusterView, now time.Time) error {
	if !v.Cluster {
		fmt.Fprintln(w, "A single server (no cluster: SQLite, or no peer listener).")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tSTATE\tPEER URL\tAGENT URL\tSTARTED\tLAST HEARTBEAT\tWORKSTATIONS\tAIRCARD SERVICES")
	for _, r := range v.Replicas {
		id, state := r.ID, "live"
		if r.Self {
			id += " (this)"
		}
		if !r.Live {
			state = "gone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", id, state, cmpOr(r.PeerURL, "-"), cmpOr(r.AgentURL, "-"),
			r.StartedAt.Local().Format(time.RFC3339), ago(now, r.HeartbeatAt), r.Workstations, r.AirCardServices)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(v.Jobs) == 0 {
		fmt.Fprintln(w, "No cluster-wide job has run yet.")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tREPLICA\tHOLDER\tLEASE\tLAST RUN")
	for _, j := range v.Jobs {
		lease := "-"
		if j.Running && j.LeaseUntil != nil {
			lease = "running, until " + j.LeaseUntil.Local().Format(time.RFC3339)
		}
		last := "never"
		if j.LastRun != nil {
			last = j.LastRun.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, cmpOr(j.Replica, "-"), cmpOr(j.Holder, "-"), lease, last)
	}
	return tw.Flush()
}

// ago says how long before now t was, in whole seconds (a heartbeat).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%ds ago", max(0, int(now.Sub(t).Seconds())))
}
