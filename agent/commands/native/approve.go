package native

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Waiting for and approving deploy approval requests. Every wait here is
// bounded by a deadline and ends at once on Ctrl-C (ctx).

// sleep waits d or until ctx ends (Ctrl-C), whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ipc.Interrupted("interrupted")
	case <-tm.C:
		return nil
	}
}

// spinSleep is sleep with the spinner shown (on a terminal) while it
// lasts, so the wait is visibly alive and nothing else is drawn over.
func spinSleep(ctx context.Context, sp *term.Spinner, d time.Duration) error {
	sp.Show()
	defer sp.Hide()
	return sleep(ctx, d)
}

// waitSpinner is the live line of a wait that gives up at deadline.
func waitSpinner(x *kit.Ctx, what string, deadline time.Time) *term.Spinner {
	return x.Spinner(func(waited time.Duration) string {
		return fmt.Sprintf("%s (%s; gives up in %s)...", what, term.Wait(waited), term.Wait(time.Until(deadline)))
	})
}

// waitDecision polls one request until it is decided or timeout passes.
func waitDecision(ctx context.Context, x *kit.Ctx, t *kit.Target, id string, interval, timeout time.Duration) (*approval, error) {
	deadline := time.Now().Add(timeout)
	sp := waitSpinner(x, "Waiting for approval of "+id, deadline)
	last := ""
	for {
		var r approval
		if _, err := getJSON(ctx, x, t, "/deploy-approval-requests/"+url.PathEscape(id), &r); err != nil {
			return nil, err
		}
		st := strings.ToLower(r.Status)
		if st == "approved" || st == "rejected" || st == "expired" {
			return &r, nil
		}
		if st != last {
			fmt.Fprintf(x.Out, "Waiting for approval (status: %s)\n", r.Status)
			last = st
		}
		if time.Now().After(deadline) {
			return nil, ipc.Errorf(ipc.CodeGateway, "timed out waiting for approval")
		}
		if err := spinSleep(ctx, sp, interval); err != nil {
			return nil, err
		}
	}
}

// approveRequest posts one approval; x.Call attaches a new MFA proof to it.
func approveRequest(ctx context.Context, x *kit.Ctx, t *kit.Target, id, notes string) (*approval, int, error) {
	if x.APIToken() != "" {
		// The gateway only takes approvals from people, after MFA.
		return nil, 0, ipc.Errorf(ipc.CodeForbidden, "API tokens can't approve deploy requests; unset RACK_GATEWAY_API_TOKEN and approve as a logged-in user")
	}
	body := map[string]any{}
	if notes != "" {
		body["notes"] = notes
	}
	raw, err := send(ctx, x, t, http.MethodPost, "/deploy-approval-requests/"+url.PathEscape(id)+"/approve", body)
	if err != nil {
		return nil, 0, err
	}
	if raw.Status/100 != 2 {
		return nil, raw.Status, kit.ResponseErr(t, http.MethodPost, raw)
	}
	var r approval
	if err := decode(raw, &r); err != nil {
		return nil, raw.Status, err
	}
	return &r, raw.Status, nil
}

func approvedLine(x *kit.Ctx, r *approval, app string) {
	line := "\n✅ Deploy approval request " + r.PublicID
	if app != "" {
		line += " (" + app + ")"
	}
	line += " approved"
	if r.ApprovalExpiresAt != nil {
		line += " (expires at " + r.ApprovalExpiresAt.UTC().Format(time.RFC3339) + ")"
	}
	fmt.Fprintln(x.Out, line)
}

// approveOptions are deploy-approval approve's flags.
type approveOptions struct {
	search searchFlags
	notes  string
}

func (o *approveOptions) Bind(fs *pflag.FlagSet) {
	o.search.bind(fs)
	fs.StringVar(&o.notes, "notes", "", "Optional notes for approval")
}

func (o *approveOptions) Run(ctx context.Context, x *kit.Ctx) error {
	notes := strings.TrimSpace(o.notes)
	ts, err := racksOf(x)
	if err != nil {
		return err
	}
	if len(ts) > 1 {
		return o.approveOn(ctx, x, ts, notes)
	}
	t := ts[0]
	if len(x.Args) == 1 {
		id, err := checkID(x.Cmd, x.Args[0])
		if err != nil {
			return err
		}
		r, status, err := approveRequest(ctx, x, t, id, notes)
		if status == http.StatusNotFound {
			return ipc.Errorf(ipc.CodeNotFound, "deploy approval request %s not found", id)
		}
		if err != nil {
			return err
		}
		approvedLine(x, r, "")
		return nil
	}
	r, err := findBySearch(ctx, x, t, o.search)
	if err != nil {
		return err
	}
	fmt.Fprintln(x.Out)
	printDetails(x, r)
	if r.Status != "pending" {
		fmt.Fprintln(x.Out, "\nAll requests are already approved.")
		return nil
	}
	// From a terminal, confirm first; scripts cannot press Enter, and the
	// MFA proof is their confirmation.
	if x.Term.CanPrompt() && x.Inv.TTY.Stdin {
		text := fmt.Sprintf("\nPress Enter to approve %s on rack %s (or Ctrl+C to abort):", r.App, t.Name)
		if _, err := x.Term.Prompt(ctx, ipc.Prompt{Text: text, Rack: t.Name, Command: "rack-gateway " + x.Cmd.Name, Reason: "confirm"}); err != nil {
			return ipc.Interrupted("aborted")
		}
	}
	approved, _, err := approveRequest(ctx, x, t, r.PublicID, notes)
	if err != nil {
		return err
	}
	approvedLine(x, approved, "")
	return nil
}

// waitOptions are deploy-approval wait's flags.
type waitOptions struct {
	search       searchFlags
	pollInterval string // a duration, checked by waitFor
	timeout      string // a duration; 0 is the ceiling
	approve      bool
	notes        string
}

func (o *waitOptions) Bind(fs *pflag.FlagSet) {
	o.search.bind(fs)
	fs.StringVar(&o.pollInterval, "poll-interval", "1s", "Polling interval")
	fs.StringVar(&o.timeout, "timeout", "30m", "Maximum time to wait (0: the 24h ceiling)")
	fs.BoolVar(&o.approve, "approve", false, "Approve the matching pending request as it appears")
	fs.StringVar(&o.notes, "notes", "", "Optional notes for approval (only used with --approve)")
}

func (o *waitOptions) Run(ctx context.Context, x *kit.Ctx) error {
	approve, notes := o.approve, strings.TrimSpace(o.notes)
	interval, err := waitFor(x.Cmd, "poll-interval", o.pollInterval, false)
	if err != nil {
		return err
	}
	timeout, err := waitFor(x.Cmd, "timeout", o.timeout, true)
	if err != nil {
		return err
	}
	ts, err := racksOf(x)
	if err != nil {
		return err
	}
	s, err := o.search.resolve(ctx, x)
	if err != nil {
		return err
	}
	filter := "apps=" + s.app
	if s.branch != "" {
		filter += " branch=" + s.branch
	}
	if s.commit != "" {
		filter += " commit=" + s.commit
	}
	if len(ts) == 1 {
		fmt.Fprintf(x.Out, "Waiting for pending deploy approval requests on rack %s (%s)\n", ts[0].Name, filter)
	} else {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Name
		}
		fmt.Fprintf(x.Out, "Waiting for pending deploy approval requests on %d racks: %s (%s)\n", len(ts), strings.Join(names, ", "), filter)
	}
	// handled is each rack's request once it was shown, approved or
	// found approved; the wait ends when every rack has one.
	handled := map[*kit.Target]*approval{}
	deadline := time.Now().Add(timeout)
	sp := waitSpinner(x, "Waiting for a pending deploy approval request", deadline)
	for {
		for _, t := range ts {
			if handled[t] != nil {
				continue
			}
			r, err := find(ctx, x, t, s, "pending")
			if err != nil {
				return rackScoped(t, err, len(ts))
			}
			if r != nil {
				done, err := handlePending(ctx, x, t, r, approve, notes, len(ts) > 1)
				if err != nil {
					return rackScoped(t, err, len(ts))
				}
				handled[t] = done
				continue
			}
			if r, err = find(ctx, x, t, s, "approved"); err != nil {
				return rackScoped(t, err, len(ts))
			} else if r != nil {
				fmt.Fprintf(x.Out, "✓ Already approved on rack %s: %s (%s)\n", t.Name, r.PublicID, r.App)
				handled[t] = r
			}
		}
		if len(handled) == len(ts) {
			if approve {
				fmt.Fprintln(x.Out, "\nApproved:")
				for _, t := range ts {
					fmt.Fprintf(x.Out, "  %s  %s  %s\n", t.Name, handled[t].App, handled[t].PublicID)
				}
			}
			return nil
		}
		if time.Now().After(deadline) {
			return ipc.Errorf(ipc.CodeGateway, "timed out waiting for a deploy approval request (%s)", filter)
		}
		if err := spinSleep(ctx, sp, interval); err != nil {
			return err
		}
	}
}

// handlePending shows a pending request that appeared and, with approve,
// approves it; it returns the request as it now stands.
func handlePending(ctx context.Context, x *kit.Ctx, t *kit.Target, r *approval, approve bool, notes string, showRack bool) (*approval, error) {
	w := x.Out
	if showRack {
		fmt.Fprintf(w, "\n📋 Deploy Approval Request Found on rack '%s':\n", t.Name)
	} else {
		fmt.Fprintln(w, "\n📋 Deploy Approval Request Found:")
	}
	fmt.Fprintf(w, "  ID: %s\n  App: %s\n  Message: %s\n  Status: %s\n  Token: %s\n  Created: %s\n",
		r.PublicID, r.App, r.Message, r.Status, r.TargetAPITokenName, r.CreatedAt.Format(time.RFC3339))
	if !approve {
		fmt.Fprintln(w, "\nUse 'rack-gateway deploy-approval approve <id>' to approve this request.")
		return r, nil
	}
	approved, _, err := approveRequest(ctx, x, t, r.PublicID, notes)
	if err != nil {
		return nil, err
	}
	if showRack {
		approvedOnLine(x, approved, r.App, t.Name)
	} else {
		approvedLine(x, approved, r.App)
	}
	if approved.App == "" {
		approved.App = r.App
	}
	return approved, nil
}
