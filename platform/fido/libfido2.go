//go:build cgo && !nofido

package fido

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"
)

const (
	// touchDelay postpones Request.Touch: a key that fails fast (no
	// credential, bad PIN) answers within milliseconds, and only one waiting
	// for presence takes longer. Without the delay the user would read
	// "Touch your security key..." right before a failure message.
	touchDelay = 150 * time.Millisecond
	// cancelInterval: Device.Cancel is a no-op until go-libfido2 has opened
	// the device inside Assertion, so a cancel that lands before that would
	// be lost; it is therefore repeated until the call returns.
	cancelInterval = 100 * time.Millisecond
	// cancelGrace is how long Assert waits, once ctx has ended, for the
	// device call to unwind. In the usual case the key acknowledges the
	// cancel quickly and the next ceremony finds it free.
	cancelGrace = 500 * time.Millisecond
	// cancelGiveUp bounds the background cancel loop for a key that never
	// answers; the busy slot then stays taken until the C call returns.
	cancelGiveUp = 2 * time.Minute
)

// CTAP status codes that go-libfido2 does not name and reports as
// libfido2.Error{Code}.
const (
	ctapUserActionTimeout = 0x2f
	ctapPINBlocked        = 0x32
	ctapPINAuthInvalid    = 0x33
	ctapUVBlocked         = 0x3c
	ctapUVInvalid         = 0x3f
)

// hardware drives the first FIDO2/U2F key libfido2 finds.
type hardware struct {
	// busy admits one ceremony at a time. A key speaks to one client
	// at a time (a second one gets CTAP "channel busy"), and a cancelled
	// ceremony keeps the slot until its C call has really returned.
	busy chan struct{}
}

// hw is shared so every caller of Default queues on the same key.
var hw = &hardware{busy: make(chan struct{}, 1)}

// Default returns the build's hardware authenticator: libfido2, because this
// build has cgo and no nofido tag.
func Default() Authenticator { return hw }

func (h *hardware) Name() string { return NameLibfido2 }

// Present lists HID FIDO devices; it opens none of them, so it is fast and
// does not disturb a ceremony in progress.
func (h *hardware) Present(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		return false, fmt.Errorf("fido: listing security keys: %w", err)
	}
	return len(locs) > 0, nil
}

// Assert runs one getAssertion on the first key found.
func (h *hardware) Assert(ctx context.Context, req Request) (*Assertion, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	dev, slot, err := h.claim(ctx)
	if err != nil {
		return nil, err
	}
	defer slot.release()
	pin, err := pinFor(ctx, dev, &req)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}

	opts := &libfido2.AssertionOpts{UP: libfido2.True}
	if req.RequiresUV() {
		// With a PIN, libfido2 obtains UV through the PIN protocol and
		// leaves the uv option out; without one, this asks for built-in UV
		// (biometrics) and a key lacking it refuses.
		opts.UV = libfido2.True
	}
	clientData := ClientData(req.Challenge, req.Origin)
	hash := sha256.Sum256(clientData)

	slot.handOff()
	res, err := h.run(ctx, dev, req.Touch, func() (*libfido2.Assertion, error) {
		return dev.Assertion(req.RPID, hash[:], req.AllowCredentials, pin, opts)
	})
	if err != nil {
		return nil, err
	}

	authData, err := unwrapAuthData(res.AuthDataCBOR, req.RPID)
	if err != nil {
		return nil, err
	}
	credID := res.CredentialID
	if len(credID) == 0 && len(req.AllowCredentials) == 1 {
		// CTAP2 lets the key omit the credential when the allow list has
		// exactly one entry; the server still needs rawId.
		credID = req.AllowCredentials[0]
	}
	if !req.Allows(credID) {
		return nil, errors.New("fido: security key answered with a credential that was not asked for")
	}
	return &Assertion{
		CredentialID:      bytes.Clone(credID),
		AuthenticatorData: authData,
		ClientDataJSON:    clientData,
		Signature:         res.Sig,
		UserHandle:        res.User.ID,
	}, nil
}

// HasCredential asks the key, with user presence off, whether it holds one
// of credentialIDs for rpID. No touch and no PIN are involved; the client
// data hash is a dummy because the resulting signature is thrown away.
func (h *hardware) HasCredential(ctx context.Context, rpID string, credentialIDs [][]byte) (bool, error) {
	if rpID == "" || len(credentialIDs) == 0 {
		return false, nil
	}
	dev, slot, err := h.claim(ctx)
	if err != nil {
		return false, err
	}
	defer slot.release()
	var dummy [sha256.Size]byte
	slot.handOff()
	_, err = h.run(ctx, dev, nil, func() (*libfido2.Assertion, error) {
		return dev.Assertion(rpID, dummy[:], credentialIDs, "", &libfido2.AssertionOpts{UP: libfido2.False})
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNoCredential):
		return false, nil
	default:
		return false, err
	}
}

// firstDevice picks the first key libfido2 lists. Choosing among several
// needs a touch-to-select ceremony that this go-libfido2 version lacks
// (docs/architecture.md, "Dependencies").
func firstDevice() (*libfido2.Device, error) {
	locs, err := libfido2.DeviceLocations()
	if err != nil {
		return nil, fmt.Errorf("fido: listing security keys: %w", err)
	}
	if len(locs) == 0 {
		return nil, ErrNoDevice
	}
	dev, err := libfido2.NewDevice(locs[0].Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	return dev, nil
}

// pinFor returns the PIN to send, or "" for none.
//
// A key with a PIN set (option clientPin=true) gets it unless the server
// discouraged user verification. That is what a browser does for the
// WebAuthn default "preferred" (the gateway sends no userVerification) and
// what the upstream CLI does; it also satisfies keys configured with
// alwaysUv and credProtect=uv-required credentials, which would otherwise
// fail only after the touch.
func pinFor(ctx context.Context, dev *libfido2.Device, req *Request) (string, error) {
	if req.UserVerification == "discouraged" {
		return "", nil
	}
	info, err := dev.Info()
	if errors.Is(err, libfido2.ErrNotFIDO2) {
		return "", nil // U2F-only key: no PIN; libfido2 falls back to U2F
	}
	if err != nil {
		return "", fmt.Errorf("fido: reading security key info: %w", mapError(err))
	}
	if !clientPINSet(info) {
		return "", nil
	}
	if req.PIN == nil {
		return "", ErrPINRequired
	}
	pin, err := req.PIN(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", cancelled(ctx.Err())
		}
		return "", fmt.Errorf("fido: asking for the PIN: %w", err)
	}
	if pin == "" {
		return "", fmt.Errorf("%w: no PIN entered", ErrPINRequired)
	}
	return pin, nil
}

func clientPINSet(info *libfido2.DeviceInfo) bool {
	for _, o := range info.Options {
		if o.Name == "clientPin" {
			return o.Value == libfido2.True
		}
	}
	return false
}

// slot is a claim on the one ceremony the key runs at a time. The caller
// releases it unless it hands it to run, whose goroutine then frees it
// when the device call returns.
type slot struct {
	h      *hardware
	handed bool
}

// handOff gives the slot to run.
func (s *slot) handOff() { s.handed = true }

// release frees the slot unless it was handed to run.
func (s *slot) release() {
	if !s.handed {
		<-s.h.busy
	}
}

// claim waits for the key to be free (or ctx to end) and finds it. On
// success the caller holds the slot; on error nothing is held.
func (h *hardware) claim(ctx context.Context) (*libfido2.Device, *slot, error) {
	select {
	case h.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, cancelled(ctx.Err())
	}
	dev, err := firstDevice()
	if err != nil {
		<-h.busy
		return nil, nil, err
	}
	return dev, &slot{h: h}, nil
}

// run performs call, one blocking device operation, in a goroutine so that
// ctx can interrupt it, and frees h.busy only when the call has returned.
// touch, if non-nil, is called once from this goroutine when the call has
// been pending for touchDelay.
func (h *hardware) run(ctx context.Context, dev *libfido2.Device, touch func(),
	call func() (*libfido2.Assertion, error)) (*libfido2.Assertion, error) {
	type result struct {
		a   *libfido2.Assertion
		err error
	}
	done := make(chan result, 1)
	finished := make(chan struct{})
	go func() {
		defer func() { <-h.busy }()
		defer close(finished)
		a, err := call()
		done <- result{a, err}
	}()

	var touchC <-chan time.Time
	if touch != nil {
		t := time.NewTimer(touchDelay)
		defer t.Stop()
		touchC = t.C
	}
	for {
		select {
		case r := <-done:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, cancelled(ctx.Err())
				}
				return nil, mapError(r.err)
			}
			return r.a, nil
		case <-touchC:
			touchC = nil
			touch()
		case <-ctx.Done():
			go keepCancelling(dev, finished)
			grace := time.NewTimer(cancelGrace)
			defer grace.Stop()
			select {
			case <-done: // even a success is dropped: the caller gave up
			case <-grace.C:
			}
			return nil, cancelled(ctx.Err())
		}
	}
}

// keepCancelling sends CTAPHID_CANCEL until the pending call returns; see
// cancelInterval for why once is not enough.
//
// go-libfido2 writes Device.dev without its mutex in open() while Cancel
// reads it under the mutex, so the race detector can flag this pair on a
// machine with a real key. The field is a single pointer and Cancel checks
// it for nil, so the race is benign, and it is the library's to fix.
func keepCancelling(dev *libfido2.Device, finished <-chan struct{}) {
	_ = dev.Cancel()
	tick := time.NewTicker(cancelInterval)
	defer tick.Stop()
	giveUp := time.NewTimer(cancelGiveUp)
	defer giveUp.Stop()
	for {
		select {
		case <-finished:
			return
		case <-giveUp.C:
			return
		case <-tick.C:
			_ = dev.Cancel()
		}
	}
}

// mapError turns go-libfido2 errors into this package's sentinels, keeping
// the original wrapped for diagnostics.
func mapError(err error) error {
	var code libfido2.Error
	hasCode := errors.As(err, &code)
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	isCode := func(codes ...int) bool {
		for _, c := range codes {
			if hasCode && code.Code == c {
				return true
			}
		}
		return false
	}
	switch {
	case err == nil:
		return nil
	case is(libfido2.ErrNoCredentials, libfido2.ErrInvalidCredential):
		return fmt.Errorf("%w: %w", ErrNoCredential, err)
	case is(libfido2.ErrPinRequired):
		return fmt.Errorf("%w: %w", ErrPINRequired, err)
	case is(libfido2.ErrPinInvalid) || isCode(ctapPINAuthInvalid, ctapUVInvalid):
		return fmt.Errorf("%w: %w", ErrPINInvalid, err)
	case is(libfido2.ErrPinAuthBlocked) || isCode(ctapPINBlocked, ctapUVBlocked):
		return fmt.Errorf("%w: %w", ErrPINBlocked, err)
	case is(libfido2.ErrKeepaliveCancel, libfido2.ErrActionTimeout, libfido2.ErrOperationDenied,
		libfido2.ErrUserPresenceRequired) || isCode(ctapUserActionTimeout):
		// The key gave up waiting for a touch, or the user declined.
		return fmt.Errorf("%w: %w", ErrCancelled, err)
	case is(libfido2.ErrPinNotSet):
		return fmt.Errorf("fido: user verification required but the security key has no PIN set: %w", err)
	}
	return fmt.Errorf("fido: security key: %w", err)
}

// cancelled wraps a context error as ErrCancelled, keeping context.Canceled
// or context.DeadlineExceeded visible to errors.Is.
func cancelled(ctxErr error) error {
	return fmt.Errorf("%w: %w", ErrCancelled, ctxErr)
}
