package core

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"
)

// ErrNoPrompt means the prompt was answered, withdrawn or never existed.
var ErrNoPrompt = errors.New("no such pending prompt")

// PendingPrompt is a question a command is waiting on. Editors can list and
// answer it through the local API while the terminal shows it too.
type PendingPrompt struct {
	ID        string    `json:"id"`
	Rack      string    `json:"rack,omitempty"`
	ConfigDir string    `json:"config_dir,omitempty"`
	Command   string    `json:"command,omitempty"`
	Text      string    `json:"text"`
	Secret    bool      `json:"secret"`
	Reason    string    `json:"reason,omitempty"`
	PID       int       `json:"pid,omitempty"`
	TTY       string    `json:"tty,omitempty"` // the command's terminal (/dev/pts/3)
	Created   time.Time `json:"created_at"`

	answer chan string
}

// Answers delivers an answer given through the API.
func (p *PendingPrompt) Answers() <-chan string { return p.answer }

// Prompts is the registry of pending prompts.
type Prompts struct {
	mu sync.Mutex
	m  map[string]*PendingPrompt
}

// Add registers p with a fresh unguessable ID and returns it.
func (r *Prompts) Add(p PendingPrompt) *PendingPrompt {
	var b [12]byte
	_, _ = rand.Read(b[:])
	p.ID = hex.EncodeToString(b[:])
	p.Created = time.Now()
	p.answer = make(chan string, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*PendingPrompt{}
	}
	r.m[p.ID] = &p
	return &p
}

// Answer hands value to the prompt's waiter and removes the prompt.
func (r *Prompts) Answer(id, value string) (*PendingPrompt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.m[id]
	if p == nil {
		return nil, ErrNoPrompt
	}
	delete(r.m, id)
	p.answer <- value
	return p, nil
}

// Remove withdraws a prompt (answered in the terminal, or abandoned). It
// reports whether the prompt was still pending: false means Answer took it
// first, and the API's answer is waiting in Answers. Whoever removes a
// prompt from the registry first has answered it (docs/local-api.md, "A
// prompt's life").
func (r *Prompts) Remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[id]
	delete(r.m, id)
	return ok
}

// List returns the pending prompts, oldest first.
func (r *Prompts) List() []PendingPrompt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PendingPrompt, 0, len(r.m))
	for _, p := range r.m {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}
