package localapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// answerTransport answers every request with one fixed response, as an
// agent (or whatever else owns the socket) might.
type answerTransport struct {
	status int
	body   []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(a.body)),
		Request: r, ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// FuzzClientAnswers gives the typed client any agent answer: it never
// panics, a non-2xx answer is always an error (the agent's own typed error
// when the body is one), and a 2xx status decodes or fails, never both.
func FuzzClientAnswers(f *testing.F) {
	for _, s := range []string{
		`{"version":"v1","capability":1,"pid":7,"started_at":"2025-01-02T03:04:05Z","socket":"/s","secret_store":"file","racks":[],"prompts":[]}`,
		`{"error":{"code":"not_found","message":"no pending prompt","hint":"GET /v1/status lists pending prompts."}}`,
		`{"error":null}`,
		`{"error":{"code":"","message":""}}`,
		`{"racks":[{"window":{"expires_at":"bad"}}]}`,
		`<html>502</html>`,
		``,
	} {
		f.Add([]byte(s), uint16(200))
		f.Add([]byte(s), uint16(404))
	}
	f.Fuzz(func(t *testing.T, body []byte, status uint16) {
		st := 100 + int(status)%500
		if st < 200 {
			st += 100 // 1xx answers are the transport's business
		}
		c := &Client{Socket: "fuzz", http: &http.Client{Transport: answerTransport{st, body}}}
		ctx := context.Background()
		s, serr := c.Status(ctx)
		if (s == nil) == (serr == nil) {
			t.Fatalf("Status gave %v and %v", s, serr)
		}
		aerr := c.AnswerPrompt(ctx, "p1", "123456")
		shErr := c.Shutdown(ctx)
		for _, err := range []error{serr, aerr, shErr} {
			if st/100 != 2 {
				if err == nil {
					t.Fatalf("a %d answer was taken for success", st)
				}
				// Either the agent's own typed error, or one that says
				// what came back.
				var ie *ipc.Error
				if !errors.As(err, &ie) && !strings.Contains(err.Error(), strconv.Itoa(st)) {
					t.Fatalf("error %q does not name the status %d", err, st)
				}
			}
		}
		if st/100 == 2 && (aerr != nil || shErr != nil) {
			t.Fatalf("a %d answer failed: %v, %v", st, aerr, shErr)
		}
	})
}
