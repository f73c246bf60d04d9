package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// server is a whole Lanyard server with a benchmark template.
type server struct {
	*webtest.Server
	url, token string
	store      lanyard.Store
	sealer     *seal.AESGCM
}

func startServer(tb testing.TB, st lanyard.Store) *server {
	w := webtest.Start(tb, st)
	s := &server{Server: w, url: w.URL, token: w.AdminToken, store: st, sealer: w.Sealer}
	s.post(tb, "/api/v1/templates", lanyard.Template{
		Name: "bench-p256", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 30,
		KeyUsage: []string{lanyard.KUDigitalSignature}, ExtKeyUsage: []string{lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{CommonName: "{display_name}"},
	}, 201)
	return s
}

func (s *server) post(tb testing.TB, path string, body any, want int) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tb.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
}

// issuingKey opens the CA's sealed issuing key the way the CA does, so the
// raw benchmark signs with exactly the key the server uses.
func (s *server) issuingKey(tb testing.TB) (*x509.Certificate, any) {
	var rec *lanyard.CARecord
	if err := s.store.View(context.Background(), func(tx lanyard.Tx) (err error) { rec, err = tx.CAByName("builtin"); return }); err != nil {
		tb.Fatal(err)
	}
	der, err := s.sealer.Open(rec.SealedKey, []byte("ca-key:builtin:issuing"))
	if err != nil {
		tb.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, k
}

func BenchmarkIssuance(b *testing.B) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, sq)

	b.Run("raw", func(b *testing.B) {
		issuer, key := srv.issuingKey(b)
		pub := mustKey(b).Public()
		tmpl, err := ca.BuildCertificate(&ca.CertSpec{
			Template: &lanyard.Template{Name: "bench", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 30,
				KeyUsage: []string{lanyard.KUDigitalSignature}, ExtKeyUsage: []string{lanyard.EKUClientAuth}, Subject: lanyard.SubjectSpec{CommonName: "{login}"}},
			User: &lanyard.User{Login: "bench"}, PublicKey: pub, Serial: big.NewInt(1),
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), URLs: ca.CAURLs(srv.url, "builtin"),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, key); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
	})
	b.Run("http-sqlite", func(b *testing.B) { benchHTTP(b, srv) })
	b.Run("http-postgres", func(b *testing.B) {
		url := os.Getenv("LANYARD_TEST_POSTGRES")
		if url == "" {
			b.Fatal("LANYARD_TEST_POSTGRES is not set: run make bench, which starts PostgreSQL and sets it")
		}
		pg, err := postgres.Open(ctx, freshSchema(b, url))
		if err != nil {
			b.Fatal(err)
		}
		benchHTTP(b, startServer(b, pg))
	})
}

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// benchHTTP issues certificates for pre-generated P-256 public keys from
// many concurrent clients with keep-alive connections.
func benchHTTP(b *testing.B, s *server) {
	const keys = 64
	bodies := make([][]byte, keys)
	for i := range bodies {
		spki, _ := x509.MarshalPKIXPublicKey(mustKey(b).Public())
		bodies[i], _ = json.Marshal(apiv1.IssueInput{Template: "bench-p256", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest("POST", s.url+"/api/v1/certificates", bytes.NewReader(bodies[i%keys]))
			i++
			req.Header.Set("Authorization", "Bearer "+s.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// freshSchema returns url with a search_path to a new, empty schema, so a
// benchmark never sees another run's rows.
func freshSchema(tb testing.TB, url string) string {
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	db, err := postgres.OpenRaw(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if db, err := postgres.OpenRaw(url); err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if bytes.ContainsRune([]byte(url), '?') {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
