package vpcd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// wait bounds every wait in these tests; all of them finish in
// milliseconds when the bridge works.
const wait = 5 * time.Second

// testLog sends the session's log to the test's log.
type testLog struct{ tb testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// withTestLogger sends the session's log, debug level included, to the
// test's log.
func withTestLogger(tb testing.TB) Option {
	return WithLogger(slog.New(slog.NewTextHandler(testLog{tb}, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// mustStart starts a session with fast backoff and a test logger, and
// ends it (waiting until it is done) when the test ends.
func mustStart(tb testing.TB, addr string, card Card, opts ...Option) *Session {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts = append([]Option{WithBackoff(10*time.Millisecond, 50*time.Millisecond), withTestLogger(tb)}, opts...)
	s, err := Start(ctx, addr, card, opts...)
	if err != nil {
		cancel()
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		<-s.Done()
	})
	return s
}

// mustAccept waits for the card's next connection.
func mustAccept(tb testing.TB, srv *vpcdtest.Server) *vpcdtest.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := srv.Accept(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// mustATR polls the card as pcscd does and checks the answer.
func mustATR(tb testing.TB, c *vpcdtest.Conn) {
	tb.Helper()
	atr, err := c.ATR()
	if err != nil {
		tb.Fatalf("ATR: %v", err)
	}
	if !bytes.Equal(atr, testATR) {
		tb.Fatalf("ATR = % X, want % X", atr, testATR)
	}
}

func mustConnected(tb testing.TB, s *Session) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.WaitConnected(ctx); err != nil {
		tb.Fatalf("WaitConnected: %v", err)
	}
}

// mustDisconnected waits until the session reports the card out.
func mustDisconnected(tb testing.TB, s *Session) {
	tb.Helper()
	deadline := time.After(wait)
	for {
		ch := s.Changed()
		if !s.Connected() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatal("session still connected")
		}
	}
}

func TestATRAndAPDURoundTrip(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	card := newTestCard()
	s := mustStart(t, srv.Addr(), card)
	c := mustAccept(t, srv)
	if s.Connected() {
		t.Fatal("connected before vpcd asked for the ATR")
	}
	mustATR(t, c)
	mustConnected(t, s)

	resp, err := c.Transmit(selectPIV)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, selectReply) {
		t.Fatalf("response % X, want % X", resp, selectReply)
	}
	// A 2-byte message is an APDU (a case 1 command missing P1 P2), not
	// a control byte.
	if resp, err = c.Transmit([]byte{0x00, 0xCA}); err != nil || !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Fatalf("2-byte command: % X, %v", resp, err)
	}
	// The longest message the framing can carry goes through whole.
	long := bytes.Repeat([]byte{0xAB}, maxMessage)
	if resp, err = c.Transmit(long); err != nil || !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Fatalf("65535-byte command: % X, %v", resp, err)
	}
	got := card.commands()
	if len(got) != 3 || !bytes.Equal(got[0], selectPIV) || !bytes.Equal(got[2], long) {
		t.Fatalf("card saw %d commands, want selectPIV, 2-byte, long", len(got))
	}
}

func TestControlBytesGetNoReply(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	card := newTestCard()
	mustStart(t, srv.Addr(), card)
	c := mustAccept(t, srv)
	for _, b := range []byte{vpcdtest.CtrlOff, vpcdtest.CtrlOn, vpcdtest.CtrlReset} {
		if err := c.Control(b); err != nil {
			t.Fatal(err)
		}
	}
	// Had the card replied to a control byte, this would read that reply
	// instead of the ATR.
	mustATR(t, c)
	if got, want := card.powerEvents(), []string{"off", "on", "reset"}; !slices.Equal(got, want) {
		t.Fatalf("power events %v, want %v", got, want)
	}
}

func TestInvalidResponsesBecome6F00(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0x90}},
		{"too long to frame", make([]byte, maxMessage+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := vpcdtest.NewServer(t)
			card := newTestCard()
			card.respond = func([]byte) []byte { return tc.resp }
			mustStart(t, srv.Addr(), card)
			c := mustAccept(t, srv)
			resp, err := c.Transmit(selectPIV)
			if err != nil || !bytes.Equal(resp, []byte{0x6F, 0x00}) {
				t.Fatalf("got % X, %v; want 6F00", resp, err)
			}
		})
	}
}

func TestMalformedMessagesCloseAndRedial(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"zero length", []byte{0x00, 0x00}},
		{"unknown control byte", []byte{0x00, 0x01, 0x03}},
		{"length longer than what follows", []byte{0x01, 0x2C, 0x00, 0xA4, 0x04}},
		{"half a length", []byte{0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := vpcdtest.NewServer(t)
			card := newTestCard()
			s := mustStart(t, srv.Addr(), card, withFrameTimeout(100*time.Millisecond))
			c := mustAccept(t, srv)
			mustATR(t, c)
			mustConnected(t, s)
			if err := c.SendRaw(tc.raw); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitClosed(wait); err != nil {
				t.Fatal(err)
			}
			mustDisconnected(t, s)
			// The card lost power with the connection, then dials again.
			if ev := card.powerEvents(); !slices.Equal(ev, []string{"off"}) {
				t.Fatalf("power events %v, want [off]", ev)
			}
			mustATR(t, mustAccept(t, srv))
			mustConnected(t, s)
		})
	}
}

func TestRedialsWhenVPCDRestarts(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	s := mustStart(t, srv.Addr(), newTestCard())
	mustATR(t, mustAccept(t, srv))
	mustConnected(t, s)

	srv.Stop() // pcscd exits: connection and listener gone
	mustDisconnected(t, s)
	time.Sleep(150 * time.Millisecond) // let a few dials fail and back off
	srv.Restart()

	c := mustAccept(t, srv)
	mustATR(t, c)
	mustConnected(t, s)
	if resp, err := c.Transmit(selectPIV); err != nil || !bytes.Equal(resp, selectReply) {
		t.Fatalf("after redial: % X, %v", resp, err)
	}
}

func TestHungCardIsDropped(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	card := newTestCard()
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before the session's cleanup, which waits for the card
	card.respond = func(apdu []byte) []byte {
		if apdu[1] == 0xA4 {
			<-release // hangs until the test lets go
		}
		return []byte{0x90, 0x00}
	}
	s := mustStart(t, srv.Addr(), card, WithCardTimeout(100*time.Millisecond))
	c := mustAccept(t, srv)
	mustATR(t, c)
	if err := c.Send(selectPIV); err != nil {
		t.Fatal(err)
	}
	// pcscd would be stuck waiting; the session frees it by closing.
	if err := c.WaitClosed(wait); err != nil {
		t.Fatal(err)
	}
	mustDisconnected(t, s)
	letGo()
	// Once the card returns, the session dials again.
	mustATR(t, mustAccept(t, srv))
}

func TestIdleTimeoutRedials(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	mustStart(t, srv.Addr(), newTestCard(), WithIdleTimeout(100*time.Millisecond))
	c := mustAccept(t, srv)
	mustATR(t, c)
	// vpcd falls silent: the card gives up on the connection and dials again.
	if err := c.WaitClosed(wait); err != nil {
		t.Fatal(err)
	}
	mustATR(t, mustAccept(t, srv))
}

func TestBadATRBacksOff(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	card := newTestCard()
	mustStart(t, srv.Addr(), card, WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	first := mustAccept(t, srv)
	mustATR(t, first)
	card.setATR([]byte{0x3B, 0x00}) // T=0 only: refused by the bridge
	if _, err := first.ATR(); err == nil {
		t.Fatal("the card answered with an invalid ATR")
	}

	// Play pcscd for 600 ms: each connection gets an ATR request, which
	// ends it. Redialling at the minimum backoff would connect ~60 times;
	// doubling from 10 ms to 200 ms allows about 7.
	deadline := time.Now().Add(600 * time.Millisecond)
	n := 0
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		c, err := srv.Accept(ctx)
		cancel()
		if err != nil {
			break
		}
		n++
		if _, err := c.ATR(); err == nil {
			t.Fatal("the card answered with an invalid ATR")
		}
	}
	t.Logf("%d connections in 600 ms", n)
	if n < 2 || n > 12 {
		t.Fatalf("%d connections in 600 ms, want a few (backoff growing to 200 ms)", n)
	}
}

func TestCancelRemovesCard(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	card := newTestCard()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Attach(ctx, srv.Addr(), card, WithBackoff(10*time.Millisecond, 0)) }()
	c := mustAccept(t, srv)
	mustATR(t, c)

	cancel()
	if err := c.WaitClosed(wait); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Attach returned %v after cancel, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Attach did not return after cancel")
	}
	if ev := card.powerEvents(); !slices.Equal(ev, []string{"off"}) {
		t.Fatalf("power events %v, want [off]", ev)
	}
	// No redial after removal.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if c, err := srv.Accept(ctx2); err == nil {
		c.Close()
		t.Fatal("card dialled again after its context ended")
	}
}

func TestCancelWhileVPCDUnreachable(t *testing.T) {
	srv := vpcdtest.NewServer(t)
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, srv.Addr(), newTestCard(), WithBackoff(time.Hour, 0))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // first dial fails; the session sleeps an hour
	cancel()
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatal("session did not end during its backoff")
	}
	if err := s.WaitConnected(context.Background()); err == nil {
		t.Fatal("WaitConnected succeeded on an ended session")
	}
}

func TestStartRejects(t *testing.T) {
	bad := newTestCard()
	bad.atr = []byte{0x3B, 0x02, 0x14, 0x50} // T=0 only
	for _, tc := range []struct {
		name string
		addr string
		card Card
		opts []Option
		is   error
	}{
		{"nil card", "127.0.0.1:35970", nil, nil, nil},
		{"T=0 ATR", "127.0.0.1:35970", bad, nil, nil},
		{"no port", "127.0.0.1", newTestCard(), nil, nil},
		{"port 0", "127.0.0.1:0", newTestCard(), nil, nil},
		{"named port", "localhost:vpcd", newTestCard(), nil, nil},
		{"no host", ":35970", newTestCard(), nil, nil},
		{"LAN address", "192.0.2.1:35970", newTestCard(), nil, ErrNotLoopback},
		{"host name", "pcscd.example:35970", newTestCard(), nil, ErrNotLoopback},
		{"unspecified", "0.0.0.0:35970", newTestCard(), nil, ErrNotLoopback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), tc.addr, tc.card, tc.opts...)
			if err == nil {
				t.Fatalf("Start(%q) = %v, want an error", tc.addr, s)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
		})
	}
	for _, tc := range []struct {
		addr string
		opts []Option
	}{
		{"127.0.0.1:1", nil},
		{"127.8.9.10:1", nil},
		{"[::1]:1", nil},
		{"localhost:1", nil},
		{"192.0.2.1:1", []Option{WithRemote()}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Start(ctx, tc.addr, newTestCard(), tc.opts...)
		cancel()
		if err != nil {
			t.Errorf("Start(%q): %v", tc.addr, err)
			continue
		}
		<-s.Done()
	}
}
