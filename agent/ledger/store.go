package ledger

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/filelock"
	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// File names inside Ledger.Dir.
const (
	jsonName = "mfa-ledger.json"
	keyName  = "mfa-ledger.key"
	lockName = "mfa-ledger.lock"
)

const (
	fileVersion = 1
	keySize     = 32
	// retention is how long a sent code's hash is kept to refuse a replay;
	// nothing older can matter to any server rule either.
	retention = 24 * time.Hour
	// maxPerUser bounds the file when something loops: 500 attempts is far
	// more than the server lets anyone make in a day.
	maxPerUser = 500
)

// ledgerFile is the JSON document in mfa-ledger.json.
type ledgerFile struct {
	Version int                    `json:"version"`
	Users   map[string][]attempt   `json:"users"`
	Blocks  map[string]serverBlock `json:"blocks,omitempty"`
	Lost    *lostMark              `json:"lost,omitempty"`
}

// attempt is one MFA attempt as the gateway would have counted it.
type attempt struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Factor  Factor    `json:"factor"`
	Outcome Outcome   `json:"outcome"`
	// Hash is the keyed hash of the code, so a replay can be recognised
	// without the file ever holding a usable code.
	Hash string `json:"hash,omitempty"`
	// Step is the TOTP time step the attempt was sent in, for 6-digit codes.
	Step int64 `json:"step,omitempty"`
}

// serverBlock is what ServerRefused leaves behind.
type serverBlock struct {
	Kind  string    `json:"kind"`
	Until time.Time `json:"until"`
}

// lostMark records when a lost ledger was noticed, so the fail-safe period
// survives restarts instead of starting over (or being forgotten) each time.
type lostMark struct {
	At   time.Time `json:"at"`
	File string    `json:"file"`
}

// state is the ledger as loaded under the lock.
type state struct {
	dir    string
	f      ledgerFile
	key    []byte // nil until something needs a hash on a fresh ledger
	newKey bool   // key must be written on save
	dirty  bool   // a loss was repaired in memory and must be persisted
}

// dirLocks holds one mutex per directory, so goroutines of one process
// serialise even when they hold different *Ledger values for the same Dir
// and even where no file lock exists.
var dirLocks sync.Map

func dirMutex(dir string) *sync.Mutex {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	m, _ := dirLocks.LoadOrStore(dir, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// update runs fn on the current state inside the critical section (process
// mutex, then file lock) and saves when fn reports a change or the load had
// to repair a loss. now is read after the lock is held, so attempt times are
// ordered the same way as the critical sections that recorded them.
func (l *Ledger) update(fn func(st *state, now time.Time) (changed bool, err error)) error {
	if l == nil || l.Dir == "" {
		return errors.New("ledger: no directory configured")
	}
	mu := dirMutex(l.Dir)
	mu.Lock()
	defer mu.Unlock()
	if err := paths.EnsurePrivateDir(l.Dir); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	unlock, err := filelock.Lock(filepath.Join(l.Dir, lockName))
	if err != nil {
		return fmt.Errorf("ledger: locking %s: %w", filepath.Join(l.Dir, lockName), err)
	}
	defer unlock()
	now := l.now()
	st, err := load(l.Dir, now)
	if err != nil {
		return err
	}
	changed, ferr := fn(st, now)
	if changed || st.dirty {
		if err := st.save(now); err != nil {
			var r *Refusal
			if errors.As(ferr, &r) {
				// Nothing is sent either way; the refusal explains more.
				return ferr
			}
			return err
		}
	}
	return ferr
}

// load reads the ledger and applies the lost-ledger rule: the key and the
// JSON are written together, so one without the other (or JSON that cannot
// be decoded) means attempts may have been forgotten.
func load(dir string, now time.Time) (*state, error) {
	st := &state{dir: dir, f: emptyFile()}
	jsonPath, keyPath := filepath.Join(dir, jsonName), filepath.Join(dir, keyName)

	key, keyErr := os.ReadFile(keyPath)
	keyMissing := errors.Is(keyErr, fs.ErrNotExist)
	keyOK := keyErr == nil && len(key) == keySize

	data, jsonErr := os.ReadFile(jsonPath)
	jsonMissing := errors.Is(jsonErr, fs.ErrNotExist)
	var f ledgerFile
	jsonOK := jsonErr == nil && decode(data, &f) == nil

	switch {
	case keyMissing && jsonMissing:
		return st, nil // first use: a fresh, empty ledger
	case keyOK && jsonOK:
		st.f, st.key = f, key
		return st, nil
	}
	var lostFiles []string
	if jsonOK {
		st.f = f
	} else {
		lostFiles = append(lostFiles, jsonPath)
	}
	if keyOK {
		st.key = key
	} else {
		lostFiles = append(lostFiles, keyPath)
		// Hashes made with the lost key can never match again; the
		// attempts themselves still count toward the server's limits.
		for u, as := range st.f.Users {
			for i := range as {
				as[i].Hash = ""
			}
			st.f.Users[u] = as
		}
		if err := st.ensureKey(); err != nil {
			return nil, err
		}
	}
	st.f.Lost = &lostMark{At: now, File: strings.Join(lostFiles, " and ")}
	st.dirty = true
	return st, nil
}

func emptyFile() ledgerFile {
	return ledgerFile{Version: fileVersion, Users: map[string][]attempt{}, Blocks: map[string]serverBlock{}}
}

// decode parses the JSON strictly: a file this version does not fully
// understand is treated like a corrupt one, because guessing could make the
// agent send an attempt the server would count against the account.
func decode(data []byte, f *ledgerFile) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return err
	}
	if f.Version != fileVersion {
		return fmt.Errorf("ledger: unsupported version %d", f.Version)
	}
	if f.Users == nil {
		f.Users = map[string][]attempt{}
	}
	if f.Blocks == nil {
		f.Blocks = map[string]serverBlock{}
	}
	for _, as := range f.Users {
		for _, a := range as {
			if !validFactor(a.Factor) || (a.Outcome != Pending && a.Outcome != Accepted && a.Outcome != Rejected) {
				return fmt.Errorf("ledger: invalid attempt %q", a.ID)
			}
		}
	}
	return nil
}

func validFactor(f Factor) bool { return f == Code || f == WebAuthn }

// ensureKey creates the HMAC key on first need; it is written on save.
func (st *state) ensureKey() error {
	if st.key != nil {
		return nil
	}
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("ledger: generating key: %w", err)
	}
	st.key, st.newKey = k, true
	return nil
}

// hash is the keyed hash stored instead of a code. A plain hash of a 6-digit
// code could be reversed by trying all million codes; the local random key
// makes the file useless without the key file.
func (st *state) hash(code string) string {
	if code == "" || st.key == nil {
		return ""
	}
	m := hmac.New(sha256.New, st.key)
	m.Write([]byte("rack-gateway mfa-ledger v1\x00"))
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// save prunes and writes the ledger. The JSON goes first: if the process
// dies before a new key is written, the next load sees JSON without a key
// and fails safe, whereas a new key next to old JSON would silently
// disable replay detection for the old hashes.
func (st *state) save(now time.Time) error {
	// JSON is never written without a key beside it, or the next load
	// would rightly take the ledger for lost.
	if err := st.ensureKey(); err != nil {
		return err
	}
	st.prune(now)
	data, err := json.MarshalIndent(&st.f, "", " ")
	if err != nil {
		return fmt.Errorf("ledger: encoding: %w", err)
	}
	if err := paths.WriteFileAtomic(filepath.Join(st.dir, jsonName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if st.newKey {
		if err := paths.WriteFileAtomic(filepath.Join(st.dir, keyName), st.key, 0o600); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		st.newKey = false
	}
	st.dirty = false
	return nil
}

// prune drops what no rule can use any more: attempts past retention (the
// newest maxPerUser survive), expired blocks and an expired loss marker.
func (st *state) prune(now time.Time) {
	cut := now.Add(-retention)
	for u, as := range st.f.Users {
		kept := as[:0]
		for _, a := range as {
			if a.Time.After(cut) {
				kept = append(kept, a)
			}
		}
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].Time.Before(kept[j].Time) })
		if len(kept) > maxPerUser {
			kept = kept[len(kept)-maxPerUser:]
		}
		if len(kept) == 0 {
			delete(st.f.Users, u)
		} else {
			st.f.Users[u] = kept
		}
	}
	for u, b := range st.f.Blocks {
		if !now.Before(b.Until) {
			delete(st.f.Blocks, u)
		}
	}
	if st.f.Lost != nil && !now.Before(st.f.Lost.At.Add(window)) {
		st.f.Lost = nil
	}
}

// newID names an attempt so its Ticket can find it again after a Rekey.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ledger: generating id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
