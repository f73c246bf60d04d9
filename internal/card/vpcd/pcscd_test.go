//go:build integration

package vpcd

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// TestRealPCSCD attaches the test card to the real pcscd that
// scripts/pcscd-test.sh started and checks it with OpenSC, a client that
// knows nothing of this package: the card appears in the reader, its ATR
// and an APDU round trip go through pcscd, and cancelling the context
// takes the card out within 3 s. It also records insert and remove
// latency as pcscd's clients see them.
//
// It must not run in parallel with other tests using the slot; Lock
// serialises it with other test processes.
func TestRealPCSCD(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	if _, err := exec.LookPath("opensc-tool"); err != nil {
		t.Fatalf("opensc-tool not found (run scripts/card-deps.sh): %v", err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s=%q: bad port", vpcdtest.EnvVar, addr)
	}
	readers := listReaders(t)
	reader, ok := vpcdtest.Reader(readersNames(readers), port)
	if !ok {
		t.Fatalf("pcscd has no Lanyard vpcd reader for port %d (readers: %v); run scripts/pcscd-test.sh", port, readersNames(readers))
	}
	if readers[reader] {
		// The slot's previous holder (another test process) may have just
		// removed its card; pcscd notices within one poll period. A card
		// that stays means something else uses the port.
		waitCard(t, reader, false, 3*time.Second)
	}

	for round := 1; round <= 2; round++ { // the slot takes a card again after removal
		card := newTestCard()
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		s, err := Start(ctx, addr, card, withTestLogger(t))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); <-s.Done() })
		mustConnected(t, s)
		attached := time.Since(start)
		seen := waitCard(t, reader, true, 5*time.Second) + attached
		t.Logf("round %d: insert: first ATR poll after %v, card listed by pcscd after %v", round, attached.Round(time.Millisecond), seen.Round(time.Millisecond))

		out := run(t, "opensc-tool", "-r", reader, "-a")
		if want := colonHex(testATR); !strings.Contains(out, want) {
			t.Fatalf("opensc-tool -a printed %q, want the ATR %s", out, want)
		}
		// -c default: skip OpenSC's card-driver probing, so the card sees
		// just this command.
		out = run(t, "opensc-tool", "-r", reader, "-c", "default", "-s", colonHex(selectPIV))
		if !strings.Contains(out, "SW1=0x90, SW2=0x00") || !strings.Contains(out, spaceHex(selectReply[:len(selectReply)-2])) {
			t.Fatalf("opensc-tool -s printed %q, want the test card's reply % X", out, selectReply)
		}
		if !slices.ContainsFunc(card.commands(), func(c []byte) bool { return string(c) == string(selectPIV) }) {
			t.Fatalf("the card did not receive SELECT; it got % X", card.commands())
		}
		if !slices.Contains(card.powerEvents(), "on") {
			t.Fatalf("pcscd never powered the card on: events %v", card.powerEvents())
		}

		start = time.Now()
		cancel()
		<-s.Done()
		closed := time.Since(start)
		gone := waitCard(t, reader, false, 3*time.Second) + closed
		t.Logf("round %d: remove: connection closed after %v, reader listed empty after %v", round, closed.Round(time.Millisecond), gone.Round(time.Millisecond))
	}
}

// listReaders returns pcscd's readers, by name, and whether each holds a
// card, as `opensc-tool --list-readers` prints them.
func listReaders(tb testing.TB) map[string]bool {
	tb.Helper()
	out := run(tb, "opensc-tool", "--list-readers")
	readers := map[string]bool{}
	row := regexp.MustCompile(`^(\d+)\s+(Yes|No)\s+(.*\S)\s*$`)
	for _, line := range strings.Split(out, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			// The Features column (for example "PIN pad") sits between
			// Card and Name; vpcd readers have none.
			readers[strings.TrimSpace(m[3])] = m[2] == "Yes"
		}
	}
	return readers
}

func readersNames(readers map[string]bool) []string {
	var names []string
	for n := range readers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// waitCard polls pcscd until the reader's card presence is want, and
// returns how long that took.
func waitCard(tb testing.TB, reader string, want bool, limit time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		present, ok := listReaders(tb)[reader]
		if !ok {
			tb.Fatalf("reader %q vanished from pcscd", reader)
		}
		if present == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			tb.Fatalf("reader %q: card present=%v after %v, want %v", reader, present, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs a client tool and returns its combined output.
func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// colonHex formats bytes as OpenSC prints and parses them: 3b:88:80.
func colonHex(b []byte) string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(s, ":")
}

// spaceHex formats bytes as opensc-tool -s prints responses: 4C 41 4E.
func spaceHex(b []byte) string { return fmt.Sprintf("% X", b) }
