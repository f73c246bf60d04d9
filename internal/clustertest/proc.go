package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is one child process: its combined output is kept and can be
// waited on line by line.
type Proc struct {
	Name string
	tb   testing.TB
	bin  string
	args []string
	env  []string

	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	cmd   *exec.Cmd
	done  chan struct{} // closed when the current run ended
	err   error
	runs  int
}

// startProc starts bin with args in its own process group. The test's
// cleanup kills the group.
func startProc(tb testing.TB, name, bin string, env []string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{Name: name, tb: tb, bin: bin, args: args, env: env}
	p.cond = sync.NewCond(&p.mu)
	p.start()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("%s", p.Tail(80))
		}
	})
	return p
}

// start runs the process (again).
func (p *Proc) start() {
	p.tb.Helper()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(cleanEnv(), p.env...)
	cmd.SysProcAttr = sysProcAttr()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		p.tb.Fatalf("starting %s (%s %s): %v", p.Name, p.bin, strings.Join(p.args, " "), err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.runs++
	if p.runs > 1 {
		p.lines = append(p.lines, fmt.Sprintf("----- %s started again -----", p.Name))
	}
	p.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.mu.Lock()
		p.err = err
		close(done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
}

// cleanEnv is the test's environment without the variables that would
// point a child at another server, token, master key or data directory.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LANYARD_") && !strings.HasPrefix(kv, "LANYARD_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Running says whether the process has not ended.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Done is closed when the current run of the process ends.
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Pid is the process's id (and its process group's).
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Output is everything the process printed so far, one line each.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Tail is the last n lines, headed with the process's name.
func (p *Proc) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lines[max(0, len(p.lines)-n):]
	return fmt.Sprintf("----- last %d lines of %s (%s) -----\n%s", len(l), p.Name, p.bin, strings.Join(l, "\n"))
}

// Lines is the number of lines printed so far: WaitLineAfter looks only
// at lines printed after such a mark.
func (p *Proc) Lines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// WaitLine waits until the process prints a line matching re and
// returns its submatches; it fails the test when the process ends or d
// passes first.
func (p *Proc) WaitLine(re *regexp.Regexp, d time.Duration) []string {
	p.tb.Helper()
	return p.WaitLineAfter(0, re, d)
}

// WaitLineAfter is WaitLine over the lines after the first from.
func (p *Proc) WaitLineAfter(from int, re *regexp.Regexp, d time.Duration) []string {
	p.tb.Helper()
	m, err := p.waitLine(from, re, d)
	if err != nil {
		p.tb.Fatalf("%s: %v (its output follows at the end of the test)", p.Name, err)
	}
	return m
}

// waitLine is WaitLineAfter returning the failure instead.
func (p *Proc) waitLine(from int, re *regexp.Regexp, d time.Duration) ([]string, error) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.done
	for i := from; ; {
		for ; i < len(p.lines); i++ {
			if m := re.FindStringSubmatch(p.lines[i]); m != nil {
				return m, nil
			}
		}
		select {
		case <-done:
			return nil, fmt.Errorf("ended (%v) before printing a line matching %q", p.err, re)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no line matching %q within %s", re, d)
		}
		p.cond.Wait()
	}
}

// Kill sends SIGKILL to the process group (kill -9: no shutdown of any
// kind) and waits for the process to end.
func (p *Proc) Kill() {
	p.signal(syscall.SIGKILL, 0)
}

// Stop sends SIGINT (a clean shutdown) and waits up to 15 s, then kills.
func (p *Proc) Stop() {
	p.signal(syscall.SIGINT, 15*time.Second)
}

func (p *Proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	select {
	case <-done:
		return
	default:
	}
	if grace > 0 {
		cmd.Process.Signal(sig)
		select {
		case <-done:
			return
		case <-time.After(grace):
			p.tb.Errorf("%s did not stop within %s of %v; killing it", p.Name, grace, sig)
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.tb.Errorf("%s (pid %d) still running 10 s after SIGKILL", p.Name, cmd.Process.Pid)
	}
}

// Restart starts the ended process again with the same arguments.
func (p *Proc) Restart() {
	p.tb.Helper()
	if p.Running() {
		p.tb.Fatalf("%s: Restart while it runs", p.Name)
	}
	p.start()
}

// run runs bin to its end with a timeout and returns its output and exit
// code (-1: it did not start or was killed).
func run(ctx context.Context, bin string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}
