//go:build cgo && !nofido

package fido

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"
	pkgerrors "github.com/pkg/errors"
)

func TestMapError(t *testing.T) {
	cases := []struct {
		in   error
		want error
	}{
		{libfido2.ErrNoCredentials, ErrNoCredential},
		{libfido2.ErrInvalidCredential, ErrNoCredential},
		{libfido2.ErrPinRequired, ErrPINRequired},
		{libfido2.ErrPinInvalid, ErrPINInvalid},
		{libfido2.Error{Code: ctapPINAuthInvalid}, ErrPINInvalid},
		{libfido2.ErrPinAuthBlocked, ErrPINBlocked},
		{libfido2.Error{Code: ctapPINBlocked}, ErrPINBlocked},
		{libfido2.ErrKeepaliveCancel, ErrCancelled},
		{libfido2.ErrActionTimeout, ErrCancelled},
		{libfido2.ErrOperationDenied, ErrCancelled},
		{libfido2.Error{Code: ctapUserActionTimeout}, ErrCancelled},
	}
	for _, c := range cases {
		// go-libfido2 wraps with github.com/pkg/errors; mapping must see through it.
		wrapped := pkgerrors.Wrapf(c.in, "failed to get assertion")
		got := mapError(wrapped)
		if !errors.Is(got, c.want) || !errors.Is(got, c.in) {
			t.Errorf("mapError(%v) = %v; want %v wrapping the original", wrapped, got, c.want)
		}
	}
	other := mapError(libfido2.ErrTX)
	for _, s := range []error{ErrNoDevice, ErrNoCredential, ErrPINRequired, ErrPINInvalid, ErrPINBlocked, ErrCancelled} {
		if errors.Is(other, s) {
			t.Errorf("mapError(ErrTX) matches %v", s)
		}
	}
	if !errors.Is(other, libfido2.ErrTX) {
		t.Errorf("mapError(ErrTX) = %v lost the original", other)
	}
}

func TestClientPINSet(t *testing.T) {
	info := &libfido2.DeviceInfo{Options: []libfido2.Option{{Name: "rk", Value: libfido2.True}, {Name: "clientPin", Value: libfido2.False}}}
	if clientPINSet(info) {
		t.Error("clientPin=false read as set")
	}
	info.Options[1].Value = libfido2.True
	if !clientPINSet(info) {
		t.Error("clientPin=true not seen")
	}
}

func TestHardwareWithoutDevice(t *testing.T) {
	a := Default()
	if a.Name() != NameLibfido2 {
		t.Fatalf("Default().Name() = %q; want %q in a cgo build", a.Name(), NameLibfido2)
	}
	ctx := context.Background()
	present, err := a.Present(ctx)
	if err != nil {
		t.Fatalf("Present: %v", err)
	}
	if present {
		t.Skip("a security key is connected; the no-device checks do not apply")
	}
	req := Request{RPID: "r.test", Challenge: "c", Origin: "https://r.test", AllowCredentials: [][]byte{{1}}}
	if _, err := a.Assert(ctx, req); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Assert err = %v; want ErrNoDevice", err)
	}
	if ok, err := a.(Prober).HasCredential(ctx, "r.test", [][]byte{{1}}); ok || !errors.Is(err, ErrNoDevice) {
		t.Errorf("HasCredential = %v, %v; want false, ErrNoDevice", ok, err)
	}
}

// TestBusySlotHonoursContext checks that a ceremony queued behind another
// gives up when its context ends instead of waiting for the key.
func TestBusySlotHonoursContext(t *testing.T) {
	h := &hardware{busy: make(chan struct{}, 1)}
	h.busy <- struct{}{} // another ceremony holds the key
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := Request{RPID: "r.test", Challenge: "c", Origin: "https://r.test", AllowCredentials: [][]byte{{1}}}
	_, err := h.Assert(ctx, req)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want ErrCancelled wrapping DeadlineExceeded", err)
	}
	if len(h.busy) != 1 {
		t.Error("a cancelled waiter changed the busy slot")
	}
}

// TestRunCancelsAndReleases drives run with a fake device call that blocks
// until "cancelled", checking Touch, prompt return and slot release.
func TestRunCancelsAndReleases(t *testing.T) {
	h := &hardware{busy: make(chan struct{}, 1)}
	h.busy <- struct{}{}
	dev, err := libfido2.NewDevice("/nonexistent") // Cancel is a no-op: never opened
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	touches := 0
	began := time.Now()
	_, err = h.run(ctx, dev, func() { touches++; cancel() }, func() (*libfido2.Assertion, error) {
		<-release
		return nil, fmt.Errorf("unblocked")
	})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want ErrCancelled", err)
	}
	if touches != 1 {
		t.Errorf("Touch called %d times", touches)
	}
	if d := time.Since(began); d > touchDelay+cancelGrace+time.Second {
		t.Errorf("run took %v after cancellation", d)
	}
	if len(h.busy) != 1 {
		t.Error("slot released while the device call was still running")
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for len(h.busy) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(h.busy) != 0 {
		t.Error("slot not released after the device call returned")
	}
}
