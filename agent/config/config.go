// Package config reads and writes config.json in the upstream CLI's layout
// (docs/gateway-protocol.md, "Config file"), minus tokens: tokens live in the secret store.
//
// Fields this package does not know are kept and written back, so a config
// shared with the upstream CLI (or a newer version of ours) loses nothing.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// FileName is the config file inside the config directory.
const FileName = "config.json"

// Gateway is one rack alias's entry.
type Gateway struct {
	URL               string     `json:"url"`
	Email             string     `json:"email,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
	SessionID         int64      `json:"session_id,omitempty"`
	Channel           string     `json:"channel,omitempty"`
	DeviceID          string     `json:"device_id,omitempty"`
	DeviceName        string     `json:"device_name,omitempty"`
	MFAVerified       bool       `json:"mfa_verified,omitempty"`
	MFAPreference     string     `json:"mfa_preference,omitempty"`
	NotificationSound string     `json:"notification_sound,omitempty"`
	SoundVolume       *float64   `json:"sound_volume,omitempty"`

	extra map[string]json.RawMessage
}

// Config is the whole file.
type Config struct {
	Current           string              `json:"current,omitempty"`
	Gateways          map[string]*Gateway `json:"gateways"`
	MachineID         string              `json:"machine_id,omitempty"`
	MFAPreference     string              `json:"mfa_preference,omitempty"`
	NotificationSound string              `json:"notification_sound,omitempty"`
	SoundVolume       *float64            `json:"sound_volume,omitempty"`
	AllRacksExclude   []string            `json:"all_racks_exclude,omitempty"`
	// WebAuthnPINCacheSeconds keeps a security key's PIN in agent memory
	// this long (0, the default: ask every time). Ours, not upstream's.
	WebAuthnPINCacheSeconds int `json:"webauthn_pin_cache_seconds,omitempty"`
	// StepUpNoticeSeconds is how close to its end a rack's step-up window
	// must be for a command to say so (see StepUpNotice). A pointer, so
	// that 0 (off) differs from absent (the default). Ours, not upstream's.
	StepUpNoticeSeconds *int `json:"stepup_notice_seconds,omitempty"`

	extra map[string]json.RawMessage
	// notices are what Load repaired in the file, for the user to read.
	notices []string
}

// DefaultStepUpNotice is the renewal notice's lead time when the config
// does not set stepup_notice_seconds.
const DefaultStepUpNotice = 60 * time.Second

// StepUpNotice is how long before a step-up window ends a command prints
// "Step-up window for RACK expires in 48s": stepup_notice_seconds, 60 s
// when absent, 0 (or less) when the notice is turned off.
func (c Config) StepUpNotice() time.Duration {
	if c.StepUpNoticeSeconds == nil {
		return DefaultStepUpNotice
	}
	if *c.StepUpNoticeSeconds <= 0 {
		return 0
	}
	return time.Duration(*c.StepUpNoticeSeconds) * time.Second
}

// Notices says what Load changed in the file on its own (an empty rack
// entry dropped), one sentence each, so the caller can tell the user once.
func (c *Config) Notices() []string { return c.notices }

// Load reads dir/config.json. A missing file is an empty config. Tokens the
// upstream CLI stored in the file are returned separately (rack → token) so
// the caller can move them into the secret store and Save the file without
// them. Load also assigns machine_id and mfa_preference the way upstream does
// on first load, and drops rack entries that are null (see Notices); the
// caller should Save when changed is true.
func Load(dir string) (cfg *Config, tokens map[string]string, changed bool, err error) {
	cfg = &Config{Gateways: map[string]*Gateway{}}
	tokens = map[string]string{}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Nothing yet.
	case err != nil:
		return nil, nil, false, fmt.Errorf("read config: %w", err)
	default:
		if err := cfg.decode(data, tokens); err != nil {
			return nil, nil, false, fmt.Errorf("config %s is not valid JSON: %w", filepath.Join(dir, FileName), err)
		}
	}
	if cfg.MachineID == "" {
		cfg.MachineID = uuid.NewString()
		changed = true
	}
	if _, err := uuid.Parse(cfg.MachineID); err != nil {
		// The server answers 500 to a non-UUID device_id (docs/gateway-protocol.md, "CLI login").
		cfg.MachineID = uuid.NewString()
		changed = true
	}
	if cfg.MFAPreference == "" {
		cfg.MFAPreference = "default"
		changed = true
	}
	if len(tokens) > 0 || len(cfg.notices) > 0 {
		changed = true
	}
	return cfg, tokens, changed, nil
}

func (c *Config) decode(data []byte, tokens map[string]string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	type plain Config
	if err := json.Unmarshal(data, (*plain)(c)); err != nil {
		return err
	}
	if c.Gateways == nil {
		c.Gateways = map[string]*Gateway{}
	}
	for name, gw := range c.Gateways {
		if gw == nil {
			// "a": null decodes to a nil entry that every reader would
			// trip over. It holds nothing (no URL), so dropping it loses
			// nothing; the caller saves the file without it.
			delete(c.Gateways, name)
			c.notices = append(c.notices, fmt.Sprintf(
				"Notice: dropped the empty entry for rack %q from config.json (it had no gateway URL); run 'rack-gateway login %s <gateway-url>' to add it again.", name, name))
		}
	}
	sort.Strings(c.notices)
	c.extra = without(raw, knownConfigKeys)
	// The raw entries are found the way the decoder above found the
	// fields ("Gateways" is gateways), so no entry's token is missed.
	var gws struct {
		Gateways map[string]json.RawMessage `json:"gateways"`
	}
	if err := json.Unmarshal(data, &gws); err != nil {
		return err
	}
	for name, obj := range gws.Gateways {
		gw := c.Gateways[name]
		if gw == nil {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(obj, &fields); err != nil {
			return err
		}
		// The token is read the way the upstream CLI's decoder reads it
		// (any case, the last one wins), so "TOKEN" moves out too.
		var legacy struct {
			Token json.RawMessage `json:"token"`
		}
		if json.Unmarshal(obj, &legacy) == nil && legacy.Token != nil {
			var tok string
			if json.Unmarshal(legacy.Token, &tok) == nil && tok != "" {
				tokens[name] = tok
			}
		}
		gw.extra = without(fields, knownGatewayKeys)
	}
	return nil
}

var knownConfigKeys = []string{"current", "gateways", "machine_id", "mfa_preference", "notification_sound", "sound_volume", "all_racks_exclude", "webauthn_pin_cache_seconds", "stepup_notice_seconds"}

// "token" is known so that it is dropped, never written back. Keys match in
// any case, as Go's decoder matches them to fields: "URL" is the url, and
// "Token" a token.
var knownGatewayKeys = []string{"url", "token", "email", "expires_at", "session_id", "channel", "device_id", "device_name", "mfa_verified", "mfa_preference", "notification_sound", "sound_volume"}

func without(m map[string]json.RawMessage, keys []string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range m {
		out[k] = v
	}
	for k := range out {
		for _, known := range keys {
			if strings.EqualFold(k, known) {
				delete(out, k)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Marshal encodes the config, merging back unknown fields. It never contains
// a token because Gateway has no token field.
func (c *Config) Marshal() ([]byte, error) {
	type plain Config
	base, err := json.Marshal((*plain)(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	for k, v := range c.extra {
		m[k] = v
	}
	gws := map[string]json.RawMessage{}
	for name, gw := range c.Gateways {
		if gw == nil {
			continue // never written: Load drops such entries too
		}
		b, err := gw.marshal()
		if err != nil {
			return nil, err
		}
		gws[name] = b
	}
	m["gateways"], _ = json.Marshal(gws)
	return json.MarshalIndent(m, "", "  ")
}

func (g *Gateway) marshal() ([]byte, error) {
	type plain Gateway
	base, err := json.Marshal((*plain)(g))
	if err != nil || len(g.extra) == 0 {
		return base, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	for k, v := range g.extra {
		m[k] = v
	}
	return json.Marshal(m)
}

// Save writes dir/config.json atomically with mode 0600 in a 0700 directory,
// and removes the upstream CLI's legacy "current" file as upstream does.
func (c *Config) Save(dir string) error {
	if err := paths.EnsurePrivateDir(dir); err != nil {
		return err
	}
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	if err := paths.WriteFileAtomic(filepath.Join(dir, FileName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	_ = os.Remove(filepath.Join(dir, "current"))
	return nil
}

// Names returns the rack aliases in a stable order. A nil entry (one a
// caller put there; Load never leaves one) is not a rack and is skipped, so
// a loop over Names can use every entry it gets.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Gateways))
	for n, g := range c.Gateways {
		if g != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
