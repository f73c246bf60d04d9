package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// The cluster-wide jobs' lease rows in job_runs (docs/architecture.md,
// "Cluster-wide jobs"); the Card Monitor's is monitor.JobName, each
// directory source's directory.JobName(id).
const (
	JobCRLRefresh        = "crl_refresh"
	JobAuditCheckpoint   = "audit_checkpoint"
	JobPurgePairings     = "purge_pairings"
	JobPurgeSessions     = "purge_sessions"
	JobPurgeSSOLogins    = "purge_sso_logins"
	JobPurgePINCopies    = "purge_pin_copies"
	JobOperationRecovery = "operation_recovery"
)

// Periods of the cluster-wide jobs.
const (
	crlRefreshEvery = 10 * time.Minute // RefreshCRLs re-signs a CRL at half its life
	checkpointEvery = time.Hour
	purgeEvery      = 10 * time.Minute
	bootstrapEvery  = 10 * time.Minute
)

// background runs the periodic jobs until ctx ends: each cluster-wide job
// once per period across the replicas that share the database (its lease
// row, internal/jobs), and this replica's own check of the bootstrap
// token file. A job that fails is tried again at the next look.
func background(ctx context.Context, st lanyard.Store, svc *service.Service, bootstrap *bootstrapTokenFile, holder string, log *slog.Logger) {
	runner, err := jobs.New(jobs.Config{Store: st, Now: time.Now, Log: log, Holder: holder})
	if err != nil {
		log.Error("the periodic jobs cannot run", "err", err)
		return
	}
	var wg sync.WaitGroup
	every := func(name string, period time.Duration, fn func(context.Context) error) {
		wg.Go(func() { runner.Every(ctx, name, period, fn) })
	}
	every(JobCRLRefresh, crlRefreshEvery, func(ctx context.Context) error {
		svc.PKI.RefreshCRLs(ctx) // logs each CA's failure itself
		return nil
	})
	every(JobOperationRecovery, cardops.OperationIdleLimit, func(ctx context.Context) error {
		return recoverOperations(ctx, svc, log)
	})
	every(JobAuditCheckpoint, checkpointEvery, func(ctx context.Context) error {
		rep, err := svc.Audit.CheckpointAudit(ctx)
		if err == nil && !rep.OK {
			log.Error("audit chain broken", "first_bad", rep.FirstBad, "problem", rep.Problem, "detail", rep.Detail)
		}
		return err
	})
	purge := func(name, what string, fn func(context.Context) (int, error)) {
		every(name, purgeEvery, func(ctx context.Context) error {
			n, err := fn(ctx)
			if err == nil && n > 0 {
				log.Info(what+" purged", "count", n)
			}
			return err
		})
	}
	purge(JobPurgePairings, "expired pairing requests", svc.Workstations.PurgePairings)
	purge(JobPurgeSessions, "expired sessions", svc.Identity.PurgeSessions)
	purge(JobPurgeSSOLogins, "expired single sign-ons", svc.SSO.PurgeLogins)
	purge(JobPurgePINCopies, "expired sealed random-PIN copies", svc.Cards.PurgePINCopies)
	// The bootstrap token's file is this replica's: every replica checks
	// its own (expired, or revoked through another replica).
	wg.Go(func() {
		t := time.NewTicker(bootstrapEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				bootstrap.check(ctx)
			}
		}
	})
	wg.Wait()
}

// recoverOperations marks card operations abandoned by a stopped server
// or a lost request as interrupted, so their owners can continue them.
func recoverOperations(ctx context.Context, svc *service.Service, log *slog.Logger) error {
	n, err := svc.Cards.RecoverOperations(ctx, cardops.OperationIdleLimit)
	if err == nil && n > 0 {
		log.Warn("card operations interrupted by a stop were marked resumable", "count", n)
	}
	return err
}
