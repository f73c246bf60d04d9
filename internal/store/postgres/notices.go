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
	"net"
	"sync"
	"sync/atomic"
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

// listenConfig is the listener's watch over its own connection. A
// connection can go half-open — the database host gone, a NAT or firewall
// dropping the flow — without the listener's read ever failing: pgxlisten
// blocks in WaitForNotification, no notice arrives, and no OnLost runs.
// So every heartbeat the listener sends a notice of its own on the
// channel (over the pool, not its own connection) and, when a heartbeat
// it sent went unanswered for timeout — nothing at all arrived since —,
// closes its connection: pgxlisten connects again and every OnLost
// handler runs. Silence alone proves nothing: a heartbeat that could not
// be sent (the pool exhausted, the database busy) is not expected back,
// and closing a healthy connection would make every replica purge its
// caches for nothing. TCP keepalives and TCP_USER_TIMEOUT on the
// connection (dialListener) end a dead peer at the socket level, sent
// heartbeats or not.
type listenConfig struct {
	heartbeat time.Duration
	timeout   time.Duration
	// wrap, for tests, wraps each connection the listener dials.
	wrap func(net.Conn) net.Conn
	// send, for tests, replaces sending the heartbeat over the pool.
	send func(ctx context.Context, pool *sql.DB, channel string) error
}

// sendHeartbeat sends the listeners' heartbeat on channel over pool.
func sendHeartbeat(ctx context.Context, pool *sql.DB, channel string) error {
	_, err := pool.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, heartbeatPayload)
	return err
}

// defaultListen: a heartbeat every 5 s, a connection given up after 15 s
// without a notification (three heartbeats missed).
var defaultListen = listenConfig{heartbeat: 5 * time.Second, timeout: 15 * time.Second}

// heartbeatPayload starts the listeners' own notices: not a change
// notice (lanyard's wire format has no such prefix), dropped after it
// proved the connection alive.
const heartbeatPayload = "lanyard-heartbeat"

// dialListener dials the listener's connection with TCP keepalives (idle
// 10 s, then every 5 s, 3 probes) and, on Linux, TCP_USER_TIMEOUT (20 s
// of unacknowledged data): the kernel ends a connection whose peer is
// gone.
func dialListener(lc listenConfig) pgconn.DialFunc {
	d := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3},
		Control:         setUserTimeout(20 * time.Second),
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil && lc.wrap != nil {
			c = lc.wrap(c)
		}
		return c, err
	}
}

// startListener starts db's listener on channel over its own connection
// to url (pgxlisten: LISTEN, then wait for notifications; connect again
// after a loss), and its heartbeat over pool, and waits until it
// listens.
func startListener(ctx context.Context, db *sqlstore.DB, pool *sql.DB, url, channel string, lc listenConfig) error {
	ready := make(chan struct{})
	var once sync.Once
	db.StartNotices(channel, func(lctx context.Context, r sqlstore.Receiver) {
		h := &handler{r: r, listening: func() { once.Do(func() { close(ready) }) }}
		l := &pgxlisten.Listener{
			Connect: func(ctx context.Context) (*pgx.Conn, error) {
				cfg, err := pgx.ParseConfig(url)
				if err != nil {
					return nil, err
				}
				cfg.RuntimeParams["application_name"] = "lanyard notices"
				cfg.DialFunc = dialListener(lc)
				return pgx.ConnectConfig(ctx, cfg)
			},
			LogError: func(ctx context.Context, err error) {
				if ctx.Err() == nil {
					slog.Warn("change notices: the listener lost its database connection; connecting again", "err", err)
				}
			},
			ReconnectDelay: listenRetry,
		}
		l.Handle(channel, h)
		var wg sync.WaitGroup
		wg.Go(func() { h.watch(lctx, pool, channel, lc) })
		_ = l.Listen(lctx) // returns when the store closes
		wg.Wait()
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

	heard atomic.Int64             // UnixNano of the last notification or (re)connection
	conn  atomic.Pointer[pgx.Conn] // the connection listening
}

func (h *handler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.heard.Store(time.Now().UnixNano())
	if n.Payload == heartbeatPayload {
		return nil
	}
	h.r.Receive(n.Payload)
	return nil
}

func (h *handler) HandleBacklog(_ context.Context, _ string, conn *pgx.Conn) error {
	h.heard.Store(time.Now().UnixNano())
	h.conn.Store(conn)
	h.r.Lost()
	h.listening()
	return nil
}

// watch sends the heartbeat every lc.heartbeat until ctx ends, and
// closes the listening connection when nothing arrived on it for
// lc.timeout after a heartbeat was sent (listenConfig). Every replica's
// heartbeat counts: any notification proves the connection delivers.
func (h *handler) watch(ctx context.Context, pool *sql.DB, channel string, lc listenConfig) {
	send := lc.send
	if send == nil {
		send = sendHeartbeat
	}
	t := time.NewTicker(lc.heartbeat)
	defer t.Stop()
	// unanswered is when the first heartbeat sent since the last
	// notification heard was sent (UnixNano; 0: none).
	var unanswered int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Taken before the send: a notification heard from then on may
		// be this heartbeat's.
		at := time.Now().UnixNano()
		sctx, cancel := context.WithTimeout(ctx, lc.heartbeat)
		err := send(sctx, pool, channel)
		cancel()
		if err != nil && ctx.Err() == nil {
			slog.Warn("change notices: sending the heartbeat failed", "err", err)
		}
		heard := h.heard.Load()
		if unanswered <= heard {
			unanswered = 0 // answered: heard since
		}
		if err == nil && unanswered == 0 && at > heard {
			unanswered = at
		}
		c := h.conn.Load()
		if c == nil || unanswered == 0 || time.Since(time.Unix(0, unanswered)) <= lc.timeout {
			continue
		}
		slog.Warn("change notices: nothing heard on the listener's connection, not even the heartbeat; connecting again", "for", lc.timeout)
		unanswered = 0
		h.conn.CompareAndSwap(c, nil) // closed once; the next connection stores itself
		// The socket, not pgx.Conn.Close: the listener's goroutine is
		// reading from the connection, and a closed socket ends that
		// read (pgxlisten then connects again).
		_ = c.PgConn().Conn().Close()
	}
}
