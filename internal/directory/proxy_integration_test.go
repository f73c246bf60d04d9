//go:build integration

package directory_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards TCP connections to a directory server on the same host
// (so its certificate still names the address) and counts the bytes the
// server sends.
type proxy struct {
	url     string
	sent    atomic.Int64
	mu      sync.Mutex
	limit   int64
	onLimit func()
	done    func(int64)
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, target string, done func(total int64)) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{done: done}
	pu := *u
	pu.Host = ln.Addr().String()
	p.url = pu.String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go p.serve(c, u.Host)
		}
	}()
	return p
}

func (p *proxy) serve(c net.Conn, target string) {
	defer p.wg.Done()
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(s, c)
	buf := make([]byte, 512)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			total := p.sent.Add(int64(n))
			p.mu.Lock()
			if p.onLimit != nil && total >= p.limit {
				p.onLimit()
				p.onLimit = nil
			}
			p.mu.Unlock()
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cancelAt calls fn once the server has sent n bytes in all.
func (p *proxy) cancelAt(n int64, fn func()) {
	p.mu.Lock()
	p.limit, p.onLimit = n, fn
	p.mu.Unlock()
}

// wait returns once every connection ended and reports the total.
func (p *proxy) wait() {
	p.wg.Wait()
	if p.done != nil {
		p.done(p.sent.Load())
	}
}
