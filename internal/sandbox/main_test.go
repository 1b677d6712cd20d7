package sandbox

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for Main's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMainContract(t *testing.T) {
	t.Parallel()
	outR, outW := io.Pipe()
	var stderr syncBuffer
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"--listen", "127.0.0.1:0", "--step-up-window", "2m", "--rate-limit-rps", "5", "--rate-limit-burst", "7"}, outW, &stderr, stop)
		outW.Close()
	}()

	lines := bufio.NewScanner(outR)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("stdout ended early; stderr: %s", stderr.String())
		}
		return lines.Text()
	}
	first := next()
	if !strings.HasPrefix(first, "url=http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	base := strings.TrimPrefix(first, "url=")
	for _, u := range New(Config{}).Users() {
		if got, want := next(), "totp "+u.Email+" "+u.TOTPSecret; got != want {
			t.Fatalf("line %q, want %q", got, want)
		}
	}
	go io.Copy(io.Discard, outR) //nolint:errcheck // drain anything further

	resp, err := http.Get(base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	// The flags reached the server: burst 7 on the auth bucket.
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		resp, err := http.Post(base+"/api/v1/auth/cli/start", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[429] == 0 {
		t.Fatalf("rate limit flags ignored: %v", codes)
	}

	stop <- syscall.SIGTERM
	select {
	case rc := <-done:
		if rc != 0 {
			t.Fatalf("exit %d; stderr: %s", rc, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not shut down")
	}
	if strings.Contains(stderr.String(), "rgw_") {
		t.Fatal("stderr mentions a token")
	}
}

func TestMainRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.10:8080", "[::]:0", "example.com:80"} {
		var stdout, stderr syncBuffer
		rc := Main([]string{"--listen", addr}, &stdout, &stderr, make(chan os.Signal))
		if rc != 2 {
			t.Errorf("%s: exit %d", addr, rc)
		}
		if !strings.Contains(stderr.String(), "refusing to listen") || !strings.Contains(stderr.String(), "loopback") {
			t.Errorf("%s: stderr %q", addr, stderr.String())
		}
		if stdout.String() != "" {
			t.Errorf("%s: stdout %q", addr, stdout.String())
		}
	}
	var stderr syncBuffer
	if rc := Main([]string{"--bogus"}, io.Discard, &stderr, nil); rc != 2 {
		t.Errorf("bad flag exit %d", rc)
	}
}
