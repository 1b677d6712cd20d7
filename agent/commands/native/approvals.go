package native

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// deploy-approval: manual approvals for CI deploys. Approving is an
// "always" MFA route (docs/gateway-protocol.md, "MFA levels").
// list, show, approve and wait also take several racks (-r a,b or -r all,
// see approvals_racks.go); with one rack their output is upstream's
// single-rack output.

func registerApprovals(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "deploy-approval list", Usage: "deploy-approval list [--status S] [--open] [--limit N] [--output json]",
		Short: "List deploy approval requests", MaxArgs: 0,
		Long: "List deploy approval requests with optional filtering by status, app and commit.",
		Bind: kit.BindNew[listOptions](),
	})
	r.Add(&kit.Command{
		Name: "deploy-approval show", Usage: "deploy-approval show [id] [--branch B | --commit SHA] [--output json]",
		Short: "Show a deploy approval request", MaxArgs: 1,
		Long: `Show details for a deploy approval request.

If no ID is provided, searches for the latest pending (then approved) request
for the app and the current git commit; --branch or --commit search by those
instead.`,
		Bind: kit.BindNew[showOptions](),
	})
	r.Add(&kit.Command{
		Name:  "deploy-approval request",
		Usage: "deploy-approval request --message M --git-commit SHA [--branch B] [--ci-metadata JSON] [--wait]",
		Short: "Request manual approval for CI/CD deploy", MaxArgs: 0,
		Bind: kit.BindNew[requestOptions](),
	})
	r.Add(&kit.Command{
		Name: "deploy-approval approve", Usage: "deploy-approval approve [id] [--branch B | --commit SHA] [--notes N]",
		Short: "Approve a deploy approval request (needs a new MFA proof)", MaxArgs: 1,
		Long: `Approve a deploy approval request.

If no ID is provided, finds the request for the app and commit (the current git
commit by default), shows it and approves it if it is pending. Each approval
needs a new MFA proof.`,
		Bind: kit.BindNew[approveOptions](),
	})
	r.Add(&kit.Command{
		Name: "deploy-approval wait", Usage: "deploy-approval wait [--approve] [--poll-interval 1s] [--timeout 30m]",
		Short: "Wait for and optionally approve pending deploy approval requests", MaxArgs: 0,
		Bind: kit.BindNew[waitOptions](),
	})
}

// appUsage is --app's usage where the app is found when not given.
const appUsage = "App name (auto-detected from .convox/app or current directory)"

// appFlag is -a/--app.
type appFlag string

func (a *appFlag) bind(fs *pflag.FlagSet, usage string) {
	fs.StringVarP((*string)(a), "app", "a", "", usage)
}

// given is --app trimmed, "" when not given.
func (a appFlag) given() string { return strings.TrimSpace(string(a)) }

// resolve applies upstream's order: --app, then .convox/app, then the name
// of the caller's directory.
func (a appFlag) resolve(x *kit.Ctx) string {
	if app := a.given(); app != "" {
		return app
	}
	if b, err := os.ReadFile(filepath.Join(x.Abs("."), ".convox", "app")); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	return filepath.Base(x.Abs("."))
}

// searchFlags are what show, approve and wait search by when no id is
// given: --app, and --branch or --commit.
type searchFlags struct {
	app    appFlag
	branch string
	commit string
}

func (f *searchFlags) bind(fs *pflag.FlagSet) {
	f.app.bind(fs, appUsage)
	fs.StringVar(&f.branch, "branch", "", "Search by git branch")
	fs.StringVar(&f.commit, "commit", "", "Search by git commit hash (uses current commit by default)")
}

// listOptions are deploy-approval list's flags.
type listOptions struct {
	status string
	open   bool
	limit  int
	output kit.Output
	app    appFlag // a filter only: never auto-detected
	commit string  // a full SHA or a prefix
}

func (o *listOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&o.status, "status", "s", "", "Filter by status (pending, approved, rejected, expired)")
	fs.BoolVar(&o.open, "open", false, "Only show open (pending) requests")
	fs.IntVarP(&o.limit, "limit", "l", 50, "Maximum number of results")
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
	o.app.bind(fs, "Only show requests for this app")
	fs.StringVar(&o.commit, "commit", "", "Only show requests for this commit (full SHA or prefix)")
}

// showOptions are deploy-approval show's flags.
type showOptions struct {
	search searchFlags
	output kit.Output
}

func (o *showOptions) Bind(fs *pflag.FlagSet) {
	o.search.bind(fs)
	kit.BindOutput(fs, &o.output, "o", "", "Output format (json)")
}

// requestOptions are deploy-approval request's flags.
type requestOptions struct {
	app          appFlag
	wait         bool
	pollInterval string // a duration, checked by waitFor
	timeout      string // a duration; 0 is the ceiling
	gitCommit    string
	branch       string
	ciMetadata   string // a JSON object
	message      string
	targetToken  string // the target API token's public id
}

func (o *requestOptions) Bind(fs *pflag.FlagSet) {
	o.app.bind(fs, appUsage)
	fs.BoolVar(&o.wait, "wait", false, "Block until approval is decided")
	fs.StringVar(&o.pollInterval, "poll-interval", "5s", "Polling interval when --wait is set")
	fs.StringVar(&o.timeout, "timeout", "20m", "Maximum time to wait before giving up (0: the 24h ceiling)")
	fs.StringVar(&o.gitCommit, "git-commit", "", "Git commit SHA (required)")
	fs.StringVar(&o.branch, "branch", "", "Git branch name")
	fs.StringVar(&o.ciMetadata, "ci-metadata", "", `CI metadata as JSON (e.g., '{"workflow_id":"abc123","pipeline_number":"456"}')`)
	fs.StringVar(&o.message, "message", "", "Deploy approval message (required)")
	fs.StringVar(&o.targetToken, "target-api-token-id", "", "Target API token ID (required when using session auth)")
}

// approval is a DeployApprovalRequest.
type approval struct {
	PublicID           string         `json:"public_id"`
	Message            string         `json:"message"`
	Status             string         `json:"status"`
	App                string         `json:"app,omitempty"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
	TargetAPITokenID   string         `json:"target_api_token_id"`
	TargetAPITokenName string         `json:"target_api_token_name,omitempty"`
	ApprovedAt         *time.Time     `json:"approved_at,omitempty"`
	ApprovalExpiresAt  *time.Time     `json:"approval_expires_at,omitempty"`
	RejectedAt         *time.Time     `json:"rejected_at,omitempty"`
	ApprovalNotes      string         `json:"approval_notes,omitempty"`
	GitCommitHash      string         `json:"git_commit_hash"`
	GitBranch          string         `json:"git_branch,omitempty"`
	CIMetadata         map[string]any `json:"ci_metadata,omitempty"`
}

// ceiling bounds every wait, even "0 = forever": a forgotten CI job or
// terminal should not poll the gateway for days.
const ceiling = 24 * time.Hour

// waitFor parses the duration flag named flag; zero, when allowed, and
// anything longer than the ceiling become the ceiling.
func waitFor(cmd *kit.Command, flag, raw string, allowZero bool) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		return 0, kit.UsageErr(cmd, "invalid --%s: %v", flag, err)
	}
	if d < 0 || (d == 0 && !allowZero) {
		return 0, kit.UsageErr(cmd, "--%s must be positive", flag)
	}
	if d == 0 || d > ceiling {
		d = ceiling
	}
	return d, nil
}

func (o *listOptions) Run(ctx context.Context, x *kit.Ctx) error {
	asJSON, err := o.output.JSON(x.Cmd)
	if err != nil {
		return err
	}
	ts, err := racksOf(x)
	if err != nil {
		return err
	}
	q := url.Values{}
	if o.status != "" {
		q.Set("status", o.status)
	}
	if o.open {
		q.Set("only_open", "true")
	}
	if o.limit > 0 {
		q.Set("limit", fmt.Sprint(o.limit))
	}
	if a := o.app.given(); a != "" {
		q.Set("app", a)
	}
	if c := strings.TrimSpace(o.commit); c != "" {
		q.Set("git_commit", c)
	}
	path := "/deploy-approval-requests"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if len(ts) > 1 {
		return o.listOn(ctx, x, ts, path, asJSON)
	}
	var res struct {
		Requests []approval `json:"deploy_approval_requests"`
	}
	raw, err := getJSON(ctx, x, ts[0], path, &res)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintRaw(x.Out, raw.Body)
	}
	if len(res.Requests) == 0 {
		fmt.Fprintln(x.Out, "No deploy approval requests found.")
		return nil
	}
	// The message comes last and is never cut, as upstream prints it.
	const row = "%-36s  %-9s  %-12s  %-7s  %-20s  %-18s  %s\n"
	fmt.Fprintf(x.Out, row, "ID", "STATUS", "APP", "COMMIT", "CREATED", "TOKEN", "MESSAGE")
	for i := range res.Requests {
		r := &res.Requests[i]
		fmt.Fprintf(x.Out, row, r.PublicID, r.Status, r.App, short(r.GitCommitHash, 7), r.CreatedAt.Format(time.RFC3339), tokenColumn(r), r.Message)
	}
	return nil
}

// search is what show/approve/wait look for when no id is given.
type search struct{ app, branch, commit string }

// resolve applies upstream's defaults: the app as appFlag.resolve finds
// it; the commit from --commit, else the short HEAD SHA (the server
// matches commits by prefix) unless --branch.
func (f searchFlags) resolve(ctx context.Context, x *kit.Ctx) (search, error) {
	s := search{app: f.app.resolve(x), branch: strings.TrimSpace(f.branch), commit: strings.TrimSpace(f.commit)}
	if s.branch != "" && s.commit != "" {
		return s, kit.UsageErr(x.Cmd, "use either --branch or --commit, not both")
	}
	if s.branch == "" && s.commit == "" {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(gctx, "git", "-C", x.Abs("."), "rev-parse", "--short", "HEAD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			return s, kit.UsageErr(x.Cmd, "could not determine the current git commit; pass --commit or --branch")
		}
		s.commit = strings.TrimSpace(string(out))
	}
	return s, nil
}

// find returns the newest request with status that matches s, or nil.
func find(ctx context.Context, x *kit.Ctx, t *kit.Target, s search, status string) (*approval, error) {
	q := url.Values{"status": {status}, "limit": {"1"}}
	if s.app != "" {
		q.Set("app", s.app)
	}
	if s.branch != "" {
		q.Set("git_branch", s.branch)
	}
	if s.commit != "" {
		q.Set("git_commit", s.commit)
	}
	var res struct {
		Requests []approval `json:"deploy_approval_requests"`
	}
	if _, err := getJSON(ctx, x, t, "/deploy-approval-requests?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	if len(res.Requests) == 0 {
		return nil, nil
	}
	return &res.Requests[0], nil
}

// findOpen prefers a pending request, then an approved one.
func findOpen(ctx context.Context, x *kit.Ctx, t *kit.Target, s search) (*approval, error) {
	for _, status := range []string{"pending", "approved"} {
		r, err := find(ctx, x, t, s, status)
		if err != nil || r != nil {
			return r, err
		}
	}
	return nil, nil
}

// findBySearch resolves the search flags (app, branch or commit) and
// finds the open request they name, or says none was found.
func findBySearch(ctx context.Context, x *kit.Ctx, t *kit.Target, f searchFlags) (*approval, error) {
	s, err := f.resolve(ctx, x)
	if err != nil {
		return nil, err
	}
	r, err := findOpen(ctx, x, t, s)
	if err == nil && r == nil {
		err = notFound(s)
	}
	return r, err
}

func notFound(s search) error {
	if s.branch != "" {
		return ipc.Errorf(ipc.CodeNotFound, "no deploy approval request found for app %q branch %q", s.app, s.branch)
	}
	return ipc.Errorf(ipc.CodeNotFound, "no deploy approval request found for app %q commit %q", s.app, s.commit)
}

// checkID checks a request id given as cmd's argument before it is sent.
func checkID(cmd *kit.Command, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", kit.UsageErr(cmd, "deploy approval request ID cannot be empty")
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", kit.UsageErr(cmd, "invalid deploy approval request ID format: must be a valid UUID")
	}
	return id, nil
}

func (o *showOptions) Run(ctx context.Context, x *kit.Ctx) error {
	asJSON, err := o.output.JSON(x.Cmd)
	if err != nil {
		return err
	}
	ts, err := racksOf(x)
	if err != nil {
		return err
	}
	if len(ts) > 1 {
		return o.showOn(ctx, x, ts, asJSON)
	}
	t := ts[0]
	if len(x.Args) == 1 {
		id, err := checkID(x.Cmd, x.Args[0])
		if err != nil {
			return err
		}
		raw, err := send(ctx, x, t, http.MethodGet, "/deploy-approval-requests/"+id, nil)
		if err != nil {
			return err
		}
		if raw.Status == http.StatusNotFound {
			return ipc.Errorf(ipc.CodeNotFound, "deploy approval request %s not found", id)
		}
		if raw.Status/100 != 2 {
			return kit.ResponseErr(t, http.MethodGet, raw)
		}
		if asJSON {
			return kit.PrintRaw(x.Out, raw.Body)
		}
		var r approval
		if err := decode(raw, &r); err != nil {
			return err
		}
		printDetails(x, &r)
		return nil
	}
	r, err := findBySearch(ctx, x, t, o.search)
	if err != nil {
		return err
	}
	if asJSON {
		return kit.PrintJSON(x.Out, r)
	}
	printDetails(x, r)
	return nil
}

func printDetails(x *kit.Ctx, r *approval) {
	w := x.Out
	fmt.Fprintf(w, "ID:       %s\n", r.PublicID)
	fmt.Fprintf(w, "Status:   %s\n", r.Status)
	fmt.Fprintf(w, "Message:  %s\n", r.Message)
	if r.App != "" {
		fmt.Fprintf(w, "App:      %s\n", r.App)
	}
	fmt.Fprintf(w, "Created:  %s\n", r.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "Updated:  %s\n", r.UpdatedAt.Format(time.RFC3339))
	if r.TargetAPITokenName != "" {
		fmt.Fprintf(w, "Token:    %s (%s)\n", r.TargetAPITokenName, r.TargetAPITokenID)
	} else {
		fmt.Fprintf(w, "Token ID: %s\n", r.TargetAPITokenID)
	}
	if r.GitCommitHash != "" {
		fmt.Fprintf(w, "Commit:   %s\n", r.GitCommitHash)
	}
	if r.GitBranch != "" {
		fmt.Fprintf(w, "Branch:   %s\n", r.GitBranch)
	}
	for _, f := range []struct {
		label string
		at    *time.Time
	}{{"Approved:", r.ApprovedAt}, {"Expires: ", r.ApprovalExpiresAt}, {"Rejected:", r.RejectedAt}} {
		if f.at != nil {
			fmt.Fprintf(w, "%s %s\n", f.label, f.at.Format(time.RFC3339))
		}
	}
	if r.ApprovalNotes != "" {
		fmt.Fprintf(w, "Notes:    %s\n", r.ApprovalNotes)
	}
}

func (o *requestOptions) Run(ctx context.Context, x *kit.Ctx) error {
	commit, message, branch, meta, target := o.gitCommit, o.message, o.branch, o.ciMetadata, o.targetToken
	if commit = strings.TrimSpace(commit); commit == "" {
		return kit.UsageErr(x.Cmd, "--git-commit is required")
	}
	if message = strings.TrimSpace(message); message == "" {
		return kit.UsageErr(x.Cmd, "--message is required")
	}
	interval, err := waitFor(x.Cmd, "poll-interval", o.pollInterval, false)
	if err != nil {
		return err
	}
	timeout, err := waitFor(x.Cmd, "timeout", o.timeout, true)
	if err != nil {
		return err
	}
	body := map[string]any{"message": message, "git_commit_hash": commit}
	app := o.app.resolve(x)
	if app != "" {
		body["app"] = app
	}
	if b := strings.TrimSpace(branch); b != "" {
		body["git_branch"] = b
	}
	if m := strings.TrimSpace(meta); m != "" {
		var md map[string]any
		if err := json.Unmarshal([]byte(m), &md); err != nil {
			return kit.UsageErr(x.Cmd, "invalid --ci-metadata JSON: %v", err)
		}
		if len(md) > 0 {
			body["ci_metadata"] = md
		}
	}
	if tg := strings.TrimSpace(target); tg != "" {
		body["target_api_token_id"] = tg
	}
	if err := oneRack(x); err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	raw, err := send(ctx, x, t, http.MethodPost, "/deploy-approval-requests", body)
	if err != nil {
		return err
	}
	var r approval
	switch {
	case raw.Status == http.StatusConflict:
		// The server answers 409 with the open request for this token and
		// commit. It counts as success only when it is this app's.
		if decode(raw, &r) != nil || r.PublicID == "" {
			return kit.ResponseErr(t, http.MethodPost, raw)
		}
		if r.App != app || !strings.EqualFold(r.GitCommitHash, commit) {
			return ipc.Errorf(ipc.CodeGateway, "the gateway returned open request %s for app %q commit %s instead of creating one for app %q commit %s; nothing was created", r.PublicID, r.App, r.GitCommitHash, app, commit)
		}
		fmt.Fprintf(x.Out, "Deploy approval request %s already exists for %s (status: %s)\n", r.PublicID, r.App, r.Status)
	case raw.Status/100 != 2:
		return kit.ResponseErr(t, http.MethodPost, raw)
	default:
		if err := decode(raw, &r); err != nil {
			return err
		}
		fmt.Fprintf(x.Out, "Deploy approval request %s created (status: %s)\n", r.PublicID, r.Status)
	}
	if !o.wait {
		return nil
	}
	final, err := waitDecision(ctx, x, t, r.PublicID, interval, timeout)
	if err != nil {
		return err
	}
	switch strings.ToLower(final.Status) {
	case "approved", "expired": // upstream reports an expired approval as approved
		fmt.Fprintf(x.Out, "Deploy approval request %s approved.\n", final.PublicID)
		return nil
	case "rejected":
		if n := strings.TrimSpace(final.ApprovalNotes); n != "" {
			return ipc.Errorf(ipc.CodeGateway, "deploy approval request %s rejected: %s", final.PublicID, n)
		}
		return ipc.Errorf(ipc.CodeGateway, "deploy approval request %s rejected", final.PublicID)
	default:
		return ipc.Errorf(ipc.CodeGateway, "deploy approval request %s finished with status: %s", final.PublicID, final.Status)
	}
}
