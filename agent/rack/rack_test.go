package rack

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// fake answers every request with one canned response and records it.
type fake struct {
	got    gateway.Request
	status int
	body   string
}

func (f *fake) do(_ context.Context, r gateway.Request) (*gateway.Raw, error) {
	f.got = r
	return &gateway.Raw{Status: f.status, Body: []byte(f.body), Header: http.Header{}}, nil
}

func TestRequestsAreProxiedFormsWithEscapedPaths(t *testing.T) {
	f := &fake{status: 200, body: `{"id":"R1"}`}
	c := New(f.do)
	r, err := c.ReleaseCreate(context.Background(), "my app", map[string]string{"env": "A=1\nB=2", "build": ""})
	if err != nil || r.Id != "R1" {
		t.Fatalf("ReleaseCreate: %v %+v", err, r)
	}
	if f.got.Method != "POST" || f.got.Path != "/api/v1/rack-proxy/apps/my%20app/releases" {
		t.Errorf("sent %s %s", f.got.Method, f.got.Path)
	}
	body, ok := f.got.Body.(gateway.RawBody)
	if !ok || body.ContentType != "application/x-www-form-urlencoded" || string(body.Data) != "env=A%3D1%0AB%3D2" {
		t.Errorf("body %#v", f.got.Body)
	}

	n := 2
	f.body = "ok\n"
	if err := c.ServiceUpdate(context.Background(), "demo", "web", ServiceUpdate{Count: &n}); err != nil {
		t.Fatal(err)
	}
	if b := f.got.Body.(gateway.RawBody); f.got.Method != "PUT" || string(b.Data) != "count=2" {
		t.Errorf("scale sent %s %q", f.got.Method, b.Data)
	}

	f.body = `[]`
	if _, err := c.ReleaseList(context.Background(), "demo", 1); err != nil || f.got.Path != "/api/v1/rack-proxy/apps/demo/releases?limit=1" || f.got.Body != nil {
		t.Errorf("list: %v %s %#v", err, f.got.Path, f.got.Body)
	}
}

func TestErrorsKeepTheServersWords(t *testing.T) {
	cases := []struct {
		status   int
		body     string
		wantText string
	}{
		{404, `{"error":"no such app: x"}`, "no such app: x"},
		{403, "You don't have permission to run processes.\n", "You don't have permission to run processes."},
		{403, `{"Error":"rack disabled"}`, "rack disabled"},
		{500, "", "response status 500"},
		{404, "404 page not found", "404 page not found"},
	}
	for _, tc := range cases {
		f := &fake{status: tc.status, body: tc.body}
		_, err := New(f.do).AppGet(context.Background(), "x")
		var ae *gateway.APIError
		if !errors.As(err, &ae) || ae.Text() != tc.wantText || ae.Status != tc.status {
			t.Errorf("%d %q: got %#v", tc.status, tc.body, err)
		}
	}
}

func TestEnvRoundTrip(t *testing.T) {
	env := ParseEnv("B=2\n# comment\n\nA=x=y\nBAD\nS=" + Mask + "\n")
	if len(env) != 3 || env["A"] != "x=y" || env["S"] != Mask {
		t.Fatalf("ParseEnv: %v", env)
	}
	if got := FormatEnv(env); got != "A=x=y\nB=2\nS="+Mask {
		t.Errorf("FormatEnv: %q", got)
	}
	if len(Mask) != 20 {
		t.Errorf("mask is %d characters", len(Mask))
	}
}
