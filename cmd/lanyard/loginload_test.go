package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Memory of a server under a flood of logins (issue 13): every password
// check is argon2id over 19 MiB. The server runs as its own process, so
// its resident set is its own, limited to 2 CPUs (GOMAXPROCS=2: 2
// concurrent password checks; internal/auth hashSlots). With the checks
// bounded, 500 parallel bad logins leave the process well under
// loginLoadRSSBound; unbounded, the same flood allocated about 9.5 GiB
// (500 × 19 MiB) and the sampler killed the server when it crossed the
// bound, within a second.
const (
	loginLoadN        = 500
	loginLoadRSSBound = 256 << 20 // bytes
	// loginLoadHold is how long the flood is kept up before the logins
	// still waiting for their check are abandoned (as impatient clients
	// do). Unbounded, all 500 checks allocate in the first second; so
	// does a lack of a bound show within the hold. Keeping the test short
	// also shows that abandoned logins stop waiting (the wait ends with
	// the request's context).
	loginLoadHold = 8 * time.Second
)

// TestServeBoundsLoginMemory fires 500 parallel bad logins at a real
// server over loopback, each from its own address (127.1.x.y) and for its
// own login, so that the throttle, which counts per address and per
// login, stops none of them: only the bound on concurrent password checks
// keeps memory down. A sampler reads the server's VmRSS every few
// milliseconds and kills it as soon as it exceeds the bound, so the test
// never exhausts the machine. After loginLoadHold the logins still
// waiting are abandoned, and a new login must be answered at once; those
// beyond the bounded queue of waiting checks are answered 503 at once. Then
// 500 parallel bad logins for one account from one address: the throttle
// counts attempts before checking them, so only its 5 allowed failures
// are checked at all.
func TestServeBoundsLoginMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc (Linux) to read the server's memory")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	proc, stop := startServeEnv(t, bin, data, addr, []string{"GOMAXPROCS=2"})
	defer stop()
	base := "http://" + addr

	idle := procMem(t, proc.Pid, "VmRSS")
	var peak atomic.Int64
	killed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			rss, ok := readProcMem(proc.Pid, "VmRSS")
			if !ok {
				return
			}
			if rss > peak.Load() {
				peak.Store(rss)
			}
			if rss > loginLoadRSSBound {
				proc.Kill()
				close(killed)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	start := time.Now()
	hold, release := context.WithTimeout(ctx, loginLoadHold)
	statuses := flood(hold, base, func(i int) (string, string) {
		return fmt.Sprintf("nobody-%d", i), fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)
	})
	release()
	took := time.Since(start)
	select {
	case <-killed:
		t.Fatalf("the server's memory exceeded %d MiB (peak sampled %d MiB, idle %d MiB) under %d parallel bad logins; it was killed",
			loginLoadRSSBound>>20, peak.Load()>>20, idle>>20, loginLoadN)
	default:
	}
	hwm := procMem(t, proc.Pid, "VmHWM")
	t.Logf("%d parallel bad logins from %d addresses for %v: %v (0: abandoned); server RSS idle %d MiB, peak (VmHWM) %d MiB, bound %d MiB",
		loginLoadN, loginLoadN, took.Round(time.Millisecond), statuses, idle>>20, hwm>>20, loginLoadRSSBound>>20)
	if hwm > loginLoadRSSBound {
		t.Fatalf("peak RSS %d MiB exceeds %d MiB", hwm>>20, loginLoadRSSBound>>20)
	}
	// At most 64 checks wait for a hashing slot (auth.maxHashWaiters); the
	// rest are told at once that the server is busy.
	if statuses[http.StatusUnauthorized] == 0 || statuses[http.StatusServiceUnavailable] == 0 ||
		statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable]+statuses[0] != loginLoadN {
		t.Fatalf("answers %v; want 401 (checked), 503 (busy, not queued) and abandoned only", statuses)
	}
	// The abandoned logins no longer wait: a new one is checked at once.
	start = time.Now()
	next := flood(ctx, base, func(int) (string, string) { return "nobody-else", "127.2.0.1" }, 1)
	if d := time.Since(start); next[http.StatusUnauthorized] != 1 || d > 5*time.Second {
		t.Fatalf("a login after the flood: %v after %v", next, d)
	}

	start = time.Now()
	statuses = flood(ctx, base, func(int) (string, string) { return "nobody", "127.0.0.1" })
	t.Logf("%d parallel bad logins for one account from one address in %v: %v", loginLoadN, time.Since(start).Round(time.Millisecond), statuses)
	if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != loginLoadN-5 {
		t.Fatalf("answers %v; want 5 × 401 (checked) and the rest 429 (refused unchecked)", statuses)
	}
}

// flood sends n (default loginLoadN) bad logins at once, login and
// source address of the i-th from who, and counts the answers by status
// (0: none before ctx ended).
func flood(ctx context.Context, base string, who func(i int) (login, from string), n ...int) map[int]int {
	count := loginLoadN
	if len(n) > 0 {
		count = n[0]
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	ready := make(chan struct{})
	for i := range count {
		login, from := who(i)
		client := &http.Client{Timeout: 50 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			status := 0
			body := fmt.Sprintf(`{"login":%q,"password":"not the password"}`, login)
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/session", bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			if res, err := client.Do(req); err == nil {
				status = res.StatusCode
				res.Body.Close()
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	close(ready)
	wg.Wait()
	return statuses
}

// readProcMem reads a memory figure (VmRSS, VmHWM) of process pid in
// bytes; false once the process is gone.
func readProcMem(pid int, field string) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func procMem(t *testing.T, pid int, field string) int64 {
	t.Helper()
	v, ok := readProcMem(pid, field)
	if !ok {
		t.Fatalf("cannot read %s of the server (pid %d)", field, pid)
	}
	return v
}
