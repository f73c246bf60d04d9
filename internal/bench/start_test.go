package bench

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkServerStart measures `lanyard serve` from exec to a 200 from
// /readyz on an empty SQLite data directory (first start: master key, CA
// creation, defaults), and reports the process's resident memory after it
// has idled for a second ("idle-MiB").
func BenchmarkServerStart(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "lanyard")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/lanyard").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var rssTotal float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := filepath.Join(b.TempDir(), fmt.Sprint(i))
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "serve", "--data", data, "--listen", addr)
		cmd.Env = append(os.Environ(), "LANYARD_MASTER_KEY=")
		b.StartTimer()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			r, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				r.Body.Close()
				if r.StatusCode == 200 {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		b.StopTimer()
		time.Sleep(time.Second)
		rssTotal += rssMiB(b, cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(rssTotal/float64(b.N), "idle-MiB")
}

func rssMiB(tb testing.TB, pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
