package native

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Several racks at once. As upstream, the deploy-approval commands other
// than request read -r/--rack as a comma-separated list of racks, or "all"
// for every configured rack except the config's all_racks_exclude. With
// one rack the output is upstream's single-rack output; with more, each
// request says which rack it is on.

// racksOf resolves the racks -r names (or the one rack ResolveRack picks
// when it names none, or one).
func racksOf(x *kit.Ctx) ([]*kit.Target, error) {
	names, err := rackNames(x)
	if err != nil {
		return nil, err
	}
	if names == nil {
		t, err := x.ResolveRack()
		if err != nil {
			return nil, err
		}
		return []*kit.Target{t}, nil
	}
	saved := x.G.Rack
	defer func() { x.G.Rack = saved }()
	var ts []*kit.Target
	for _, n := range names {
		x.G.Rack = n
		t, err := x.ResolveRack()
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// rackNames are the names -r (or $RACK_GATEWAY_RACK) lists, nil when it
// names at most one rack, which ResolveRack handles as every command does.
func rackNames(x *kit.Ctx) ([]string, error) {
	raw := strings.TrimSpace(x.G.Rack)
	if raw == "" {
		raw = x.Getenv("RACK_GATEWAY_RACK")
	}
	if raw == "all" {
		p, err := x.Profile()
		if err != nil {
			return nil, err
		}
		cfg := p.Config()
		var names []string
		for _, n := range cfg.Names() {
			if !slices.Contains(cfg.AllRacksExclude, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, ipc.Errorf(ipc.CodeNotFound, "no racks configured").WithHint("Run: rack-gateway login <rack> <gateway-url>")
		}
		return names, nil
	}
	if !strings.Contains(raw, ",") {
		return nil, nil
	}
	var names []string
	for _, part := range strings.Split(raw, ",") {
		if n := strings.TrimSpace(part); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, kit.UsageErr(x.Cmd, "no valid rack names provided")
	}
	return names, nil
}

// oneRack refuses a rack list for the commands that act on one rack.
func oneRack(x *kit.Ctx) error {
	names, err := rackNames(x)
	if err != nil {
		return err
	}
	if names != nil {
		return kit.UsageErr(x.Cmd, "%s acts on one rack; a list of racks or \"all\" is for deploy-approval list, show, approve and wait", x.Cmd.Name)
	}
	return nil
}

// rackScoped puts the rack's name before err when several racks are in
// play, so the user knows which one failed; an interruption stays as it is.
func rackScoped(t *kit.Target, err error, racks int) error {
	if err == nil || racks <= 1 {
		return err
	}
	e := ipc.AsError(err)
	if e.Code == ipc.CodeInterrupted {
		return e
	}
	c := *e
	c.Message = "rack " + t.Name + ": " + e.Message
	return &c
}

// onRack is a request and the rack it is on.
type onRack struct {
	t *kit.Target
	r *approval
}

// listOn is list on several racks: one table with a RACK column, or one
// JSON list of every rack's requests.
func (o *listOptions) listOn(ctx context.Context, x *kit.Ctx, ts []*kit.Target, path string, asJSON bool) error {
	var all []onRack
	var reqs []approval
	for _, t := range ts {
		var res struct {
			Requests []approval `json:"deploy_approval_requests"`
		}
		if _, err := getJSON(ctx, x, t, path, &res); err != nil {
			return rackScoped(t, err, len(ts))
		}
		for i := range res.Requests {
			all = append(all, onRack{t, &res.Requests[i]})
			reqs = append(reqs, res.Requests[i])
		}
	}
	if asJSON {
		if reqs == nil {
			reqs = []approval{}
		}
		return kit.PrintJSON(x.Out, map[string][]approval{"deploy_approval_requests": reqs})
	}
	if len(all) == 0 {
		fmt.Fprintln(x.Out, "No deploy approval requests found.")
		return nil
	}
	const row = "%-12s  %-36s  %-9s  %-12s  %-7s  %-20s  %-18s  %s\n"
	fmt.Fprintf(x.Out, row, "RACK", "ID", "STATUS", "APP", "COMMIT", "CREATED", "TOKEN", "MESSAGE")
	for _, a := range all {
		r := a.r
		fmt.Fprintf(x.Out, row, a.t.Name, r.PublicID, r.Status, r.App, short(r.GitCommitHash, 7),
			r.CreatedAt.Format(time.RFC3339), tokenColumn(r), r.Message)
	}
	return nil
}

// short is s cut to n bytes.
func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// tokenColumn is the TOKEN cell: the token's name (else its id), cut to 18.
func tokenColumn(r *approval) string {
	tok := r.TargetAPITokenName
	if tok == "" {
		tok = r.TargetAPITokenID
	}
	if len(tok) > 18 {
		tok = tok[:15] + "..."
	}
	return tok
}

// byIDOn finds request id on the first of ts that has it, as upstream
// tries each rack in turn; a 404 moves on to the next.
func byIDOn(ctx context.Context, x *kit.Ctx, ts []*kit.Target, id string) (*onRack, []byte, error) {
	for _, t := range ts {
		raw, err := send(ctx, x, t, http.MethodGet, "/deploy-approval-requests/"+id, nil)
		if err != nil {
			return nil, nil, rackScoped(t, err, len(ts))
		}
		if raw.Status == http.StatusNotFound {
			continue
		}
		if raw.Status/100 != 2 {
			return nil, nil, rackScoped(t, kit.ResponseErr(t, http.MethodGet, raw), len(ts))
		}
		var r approval
		if err := decode(raw, &r); err != nil {
			return nil, nil, err
		}
		if r.PublicID == "" {
			continue
		}
		return &onRack{t, &r}, raw.Body, nil
	}
	return nil, nil, ipc.Errorf(ipc.CodeNotFound, "deploy approval request %s not found", id)
}

// searchOn finds, on each rack, the open request the search names
// (pending first, then approved); racks without one are left out.
func searchOn(ctx context.Context, x *kit.Ctx, ts []*kit.Target, s search) ([]onRack, error) {
	var found []onRack
	for _, t := range ts {
		r, err := findOpen(ctx, x, t, s)
		if err != nil {
			return nil, rackScoped(t, err, len(ts))
		}
		if r != nil {
			found = append(found, onRack{t, r})
		}
	}
	return found, nil
}

// printOn is printDetails for a request among several racks' requests:
// its rack first.
func printOn(x *kit.Ctx, a onRack, showRack bool) {
	if showRack {
		fmt.Fprintf(x.Out, "Rack:     %s\n", a.t.Name)
	}
	printDetails(x, a.r)
}

// showOn is show on several racks.
func (o *showOptions) showOn(ctx context.Context, x *kit.Ctx, ts []*kit.Target, asJSON bool) error {
	if len(x.Args) == 1 {
		id, err := checkID(x.Cmd, x.Args[0])
		if err != nil {
			return err
		}
		a, body, err := byIDOn(ctx, x, ts, id)
		if err != nil {
			return err
		}
		if asJSON {
			return kit.PrintRaw(x.Out, body)
		}
		printOn(x, *a, true)
		return nil
	}
	s, err := o.search.resolve(ctx, x)
	if err != nil {
		return err
	}
	found, err := searchOn(ctx, x, ts, s)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return notFound(s)
	}
	if asJSON {
		// As upstream: one request is an object, several a list.
		if len(found) == 1 {
			return kit.PrintJSON(x.Out, found[0].r)
		}
		var rs []*approval
		for _, a := range found {
			rs = append(rs, a.r)
		}
		return kit.PrintJSON(x.Out, rs)
	}
	for i, a := range found {
		if i > 0 {
			fmt.Fprintln(x.Out)
		}
		printOn(x, a, true)
	}
	return nil
}

// approveOn is approve on several racks: by id, on the rack that has it;
// by search, every rack's request, and only when every rack has one, so a
// retry once the missing ones exist approves them all together.
func (o *approveOptions) approveOn(ctx context.Context, x *kit.Ctx, ts []*kit.Target, notes string) error {
	if len(x.Args) == 1 {
		id, err := checkID(x.Cmd, x.Args[0])
		if err != nil {
			return err
		}
		// byIDOn reads before approving: the approval itself needs a new
		// MFA proof, and only the rack that has the request should ask.
		a, _, err := byIDOn(ctx, x, ts, id)
		if err != nil {
			return err
		}
		r, _, err := approveRequest(ctx, x, a.t, id, notes)
		if err != nil {
			return rackScoped(a.t, err, len(ts))
		}
		approvedOnLine(x, r, "", a.t.Name)
		return nil
	}
	s, err := o.search.resolve(ctx, x)
	if err != nil {
		return err
	}
	found, err := searchOn(ctx, x, ts, s)
	if err != nil {
		return err
	}
	var missing []string
	for _, t := range ts {
		if !slices.ContainsFunc(found, func(a onRack) bool { return a.t == t }) {
			missing = append(missing, t.Name+"/"+s.app)
		}
	}
	if len(missing) > 0 {
		what := "commit " + s.commit
		if s.branch != "" {
			what = "branch " + s.branch
		}
		return ipc.Errorf(ipc.CodeNotFound, "no deploy approval request found for %s on %s; nothing was approved", what, strings.Join(missing, ", "))
	}
	fmt.Fprintln(x.Out)
	var pending []onRack
	for i, a := range found {
		if i > 0 {
			fmt.Fprintln(x.Out)
		}
		printOn(x, a, true)
		if a.r.Status == "pending" {
			pending = append(pending, a)
		}
	}
	if len(pending) == 0 {
		fmt.Fprintln(x.Out, "\nAll requests are already approved.")
		return nil
	}
	if x.Term.CanPrompt() && x.Inv.TTY.Stdin {
		targets := make([]string, len(pending))
		for i, a := range pending {
			targets[i] = a.t.Name + "/" + a.r.App
		}
		text := fmt.Sprintf("\nPress Enter to approve %d requests: %s (or Ctrl+C to abort):", len(pending), strings.Join(targets, ", "))
		if len(pending) == 1 {
			text = fmt.Sprintf("\nPress Enter to approve %s on rack %s (or Ctrl+C to abort):", pending[0].r.App, pending[0].t.Name)
		}
		if _, err := x.Term.Prompt(ctx, ipc.Prompt{Text: text, Rack: pending[0].t.Name, Command: "rack-gateway " + x.Cmd.Name, Reason: "confirm"}); err != nil {
			return ipc.Interrupted("aborted")
		}
	}
	for i, a := range pending {
		x.Progress("\nApproving request %d of %d:\n  Rack:    %s\n  ID:      %s\n  Message: %s", i+1, len(pending), a.t.Name, a.r.PublicID, a.r.Message)
		r, _, err := approveRequest(ctx, x, a.t, a.r.PublicID, notes)
		if err != nil {
			return ipc.Errorf(ipc.AsError(err).Code, "failed to approve request on rack %s: %s", a.t.Name, ipc.AsError(err).Message)
		}
		approvedOnLine(x, r, "", a.t.Name)
	}
	if len(pending) > 1 {
		fmt.Fprintf(x.Out, "\n✅ Successfully approved %d requests\n", len(pending))
	}
	return nil
}

// approvedOnLine is approvedLine naming the rack, as upstream does when
// several racks are in play.
func approvedOnLine(x *kit.Ctx, r *approval, app, rack string) {
	line := "\n✅ Deploy approval request " + r.PublicID
	if app != "" {
		line += " (" + app + ")"
	}
	line += " approved on rack " + rack
	if r.ApprovalExpiresAt != nil {
		line += " (expires at " + r.ApprovalExpiresAt.UTC().Format(time.RFC3339) + ")"
	}
	fmt.Fprintln(x.Out, line)
}
