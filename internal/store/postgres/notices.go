package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/lanyard-cms/lanyard/internal/store/sqlstore"
)

// Change notices between replicas travel with LISTEN/NOTIFY
// (docs/architecture.md, "Change notices"). A channel is database-wide,
// not per schema, and several Lanyard clusters (tests, tenants) may share
// one database in different schemas: each cluster's channel is named
// after a random ID kept in its own settings table, made by the first
// replica that starts (clusterIDSetting), and after the schema's name. A
// schema restored from a dump keeps its ID, so its replicas still meet;
// restored into the same database under another name (so that both
// copies carry one ID) it gets a channel of its own.
const clusterIDSetting = "cluster_id"

// notifySQL sends a transaction's notices in one statement; PostgreSQL
// delivers them to listeners when, and only if, the transaction commits
// (and drops duplicates within it).
const notifySQL = `SELECT pg_notify(?, x) FROM unnest(?::text[]) AS x`

// listenRetry is how long the listener waits before connecting again
// after losing its connection; notices sent meanwhile are lost, which
// its subscribers learn (OnLost) once it is back.
const listenRetry = time.Second

// listenReady bounds how long Open waits for the listener's first LISTEN,
// so that a store Open returned hears every notice committed after.
const listenReady = 10 * time.Second

// noticeChannel returns the cluster's channel name, making its ID if the
// schema has none yet (replicas starting together agree: the first
// insert wins, the others read it).
func noticeChannel(ctx context.Context, pool *sql.DB) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	if _, err := pool.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		clusterIDSetting, []byte(hex.EncodeToString(b[:]))); err != nil {
		return "", fmt.Errorf("cluster ID: %w", err)
	}
	var id []byte
	if err := pool.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, clusterIDSetting).Scan(&id); err != nil {
		return "", fmt.Errorf("cluster ID: %w", err)
	}
	if len(id) == 0 {
		return "", fmt.Errorf("cluster ID is empty")
	}
	var schema string
	if err := pool.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("cluster ID: %w", err)
	}
	return channelName(schema, string(id)), nil
}

// channelName is the channel of the cluster with ID id in schema: an
// identifier of at most 63 bytes (NAMEDATALEN), whatever the lengths of
// the two, so a hash of both (128 bits of SHA-256).
func channelName(schema, id string) string {
	sum := sha256.Sum256([]byte("lanyard-notices-v1\x00" + schema + "\x00" + id))
	return "lanyard_" + hex.EncodeToString(sum[:16])
}

// startListener starts db's listener on channel over its own connection
// to url (pgxlisten: LISTEN, then wait for notifications; connect again
// after a loss) and waits until it listens.
func startListener(ctx context.Context, db *sqlstore.DB, url, channel string) error {
	ready := make(chan struct{})
	var once sync.Once
	db.StartNotices(channel, func(lctx context.Context, r sqlstore.Receiver) {
		l := &pgxlisten.Listener{
			Connect: func(ctx context.Context) (*pgx.Conn, error) {
				cfg, err := pgx.ParseConfig(url)
				if err != nil {
					return nil, err
				}
				cfg.RuntimeParams["application_name"] = "lanyard notices"
				return pgx.ConnectConfig(ctx, cfg)
			},
			LogError: func(ctx context.Context, err error) {
				if ctx.Err() == nil {
					slog.Warn("change notices: the listener lost its database connection; connecting again", "err", err)
				}
			},
			ReconnectDelay: listenRetry,
		}
		l.Handle(channel, handler{r: r, listening: func() { once.Do(func() { close(ready) }) }})
		_ = l.Listen(lctx) // returns when the store closes
	})
	t := time.NewTimer(listenReady)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("the change notice listener did not connect")
	}
}

// handler passes notifications to the store. pgxlisten calls
// HandleBacklog on every (re)connection, right after LISTEN: notices
// sent while no connection listened are lost, so every OnLost handler
// runs (NOTIFY is not durable).
type handler struct {
	r         sqlstore.Receiver
	listening func()
}

func (h handler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.r.Receive(n.Payload)
	return nil
}

func (h handler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.r.Lost()
	h.listening()
	return nil
}
