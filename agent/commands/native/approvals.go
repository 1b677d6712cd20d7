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

// deploy-approval: manual approvals for CI deploys (gateway-api.md §5.5).
// Upstream can fan out over several racks; here every command acts on the
// one rack ResolveRack picks, which keeps the output single-rack upstream's.

func registerApprovals(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "deploy-approval list", Usage: "deploy-approval list [--status S] [--open] [--limit N] [--output json]",
		Short: "List deploy approval requests", MaxArgs: 0,
		Long: "List deploy approval requests with optional filtering by status, app and commit.",
		Flags: func(fs *pflag.FlagSet) {
			fs.StringP("status", "s", "", "Filter by status (pending, approved, rejected, expired)")
			fs.Bool("open", false, "Only show open (pending) requests")
			fs.IntP("limit", "l", 50, "Maximum number of results")
			fs.StringP("output", "o", "", "Output format (json)")
			fs.StringP("app", "a", "", "Only show requests for this app")
			fs.String("commit", "", "Only show requests for this commit (full SHA or prefix)")
		},
		Run: runApprovalList,
	})
	r.Add(&kit.Command{
		Name: "deploy-approval show", Usage: "deploy-approval show [id] [--branch B | --commit SHA] [--output json]",
		Short: "Show a deploy approval request", MaxArgs: 1,
		Long: `Show details for a deploy approval request.

If no ID is provided, searches for the latest pending (then approved) request
for the app and the current git commit; --branch or --commit search by those
instead.`,
		Flags: func(fs *pflag.FlagSet) {
			searchFlags(fs)
			fs.StringP("output", "o", "", "Output format (json)")
		},
		Run: runApprovalShow,
	})
	r.Add(&kit.Command{
		Name:  "deploy-approval request",
		Usage: "deploy-approval request --message M --git-commit SHA [--branch B] [--ci-metadata JSON] [--wait]",
		Short: "Request manual approval for CI/CD deploy", MaxArgs: 0,
		Flags: func(fs *pflag.FlagSet) {
			fs.StringP("app", "a", "", "App name (auto-detected from .convox/app or current directory)")
			fs.Bool("wait", false, "Block until approval is decided")
			fs.String("poll-interval", "5s", "Polling interval when --wait is set")
			fs.String("timeout", "20m", "Maximum time to wait before giving up (0: the 24h ceiling)")
			fs.String("git-commit", "", "Git commit SHA (required)")
			fs.String("branch", "", "Git branch name")
			fs.String("ci-metadata", "", `CI metadata as JSON (e.g., '{"workflow_id":"abc123","pipeline_number":"456"}')`)
			fs.String("message", "", "Deploy approval message (required)")
			fs.String("target-api-token-id", "", "Target API token ID (required when using session auth)")
		},
		Run: runApprovalRequest,
	})
	r.Add(&kit.Command{
		Name: "deploy-approval approve", Usage: "deploy-approval approve [id] [--branch B | --commit SHA] [--notes N]",
		Short: "Approve a deploy approval request (needs a new MFA proof)", MaxArgs: 1,
		Long: `Approve a deploy approval request.

If no ID is provided, finds the request for the app and commit (the current git
commit by default), shows it and approves it if it is pending. Each approval
needs a new MFA proof.`,
		Flags: func(fs *pflag.FlagSet) {
			searchFlags(fs)
			fs.String("notes", "", "Optional notes for approval")
		},
		Run: runApprovalApprove,
	})
	r.Add(&kit.Command{
		Name: "deploy-approval wait", Usage: "deploy-approval wait [--approve] [--poll-interval 1s] [--timeout 30m]",
		Short: "Wait for and optionally approve pending deploy approval requests", MaxArgs: 0,
		Flags: func(fs *pflag.FlagSet) {
			searchFlags(fs)
			fs.String("poll-interval", "1s", "Polling interval")
			fs.String("timeout", "30m", "Maximum time to wait (0: the 24h ceiling)")
			fs.Bool("approve", false, "Approve the matching pending request as it appears")
			fs.String("notes", "", "Optional notes for approval (only used with --approve)")
		},
		Run: runApprovalWait,
	})
}

func searchFlags(fs *pflag.FlagSet) {
	fs.StringP("app", "a", "", "App name (auto-detected from .convox/app or current directory)")
	fs.String("branch", "", "Search by git branch")
	fs.String("commit", "", "Search by git commit hash (uses current commit by default)")
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

func duration(x *kit.Ctx, flag string, allowZero bool) (time.Duration, error) {
	raw, _ := x.Flags.GetString(flag)
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		return 0, userErr("invalid --%s: %v", flag, err)
	}
	if d < 0 || (d == 0 && !allowZero) {
		return 0, userErr("--%s must be positive", flag)
	}
	if d == 0 || d > ceiling {
		d = ceiling
	}
	return d, nil
}

func runApprovalList(ctx context.Context, x *kit.Ctx) error {
	format, err := wantJSON(x, "", "json")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	q := url.Values{}
	if s, _ := x.Flags.GetString("status"); s != "" {
		q.Set("status", s)
	}
	if o, _ := x.Flags.GetBool("open"); o {
		q.Set("only_open", "true")
	}
	if l, _ := x.Flags.GetInt("limit"); l > 0 {
		q.Set("limit", fmt.Sprint(l))
	}
	if a, _ := x.Flags.GetString("app"); strings.TrimSpace(a) != "" {
		q.Set("app", strings.TrimSpace(a))
	}
	if c, _ := x.Flags.GetString("commit"); strings.TrimSpace(c) != "" {
		q.Set("git_commit", strings.TrimSpace(c))
	}
	path := "/deploy-approval-requests"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var res struct {
		Requests []approval `json:"deploy_approval_requests"`
	}
	raw, err := getJSON(ctx, x, t, path, &res)
	if err != nil {
		return err
	}
	if format == "json" {
		return printRaw(x.Out, raw.Body)
	}
	if len(res.Requests) == 0 {
		fmt.Fprintln(x.Out, "No deploy approval requests found.")
		return nil
	}
	// The message comes last and is never cut, as upstream prints it.
	const row = "%-36s  %-9s  %-12s  %-7s  %-20s  %-18s  %s\n"
	fmt.Fprintf(x.Out, row, "ID", "STATUS", "APP", "COMMIT", "CREATED", "TOKEN", "MESSAGE")
	for _, r := range res.Requests {
		tok := r.TargetAPITokenName
		if tok == "" {
			tok = r.TargetAPITokenID
		}
		if len(tok) > 18 {
			tok = tok[:15] + "..."
		}
		commit := r.GitCommitHash
		if len(commit) > 7 {
			commit = commit[:7]
		}
		fmt.Fprintf(x.Out, row, r.PublicID, r.Status, r.App, commit, r.CreatedAt.Format(time.RFC3339), tok, r.Message)
	}
	return nil
}

// search is what show/approve/wait look for when no id is given.
type search struct{ app, branch, commit string }

// resolveSearch applies upstream's defaults: the app from --app, then
// .convox/app, then the directory name; the commit from --commit, else the
// short HEAD SHA (the server matches commits by prefix) unless --branch.
func resolveSearch(ctx context.Context, x *kit.Ctx) (search, error) {
	var s search
	s.app = resolveApp(x)
	s.branch, _ = x.Flags.GetString("branch")
	s.commit, _ = x.Flags.GetString("commit")
	s.branch, s.commit = strings.TrimSpace(s.branch), strings.TrimSpace(s.commit)
	if s.branch != "" && s.commit != "" {
		return s, userErr("use either --branch or --commit, not both")
	}
	if s.branch == "" && s.commit == "" {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(gctx, "git", "-C", x.Abs("."), "rev-parse", "--short", "HEAD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			return s, userErr("could not determine the current git commit; pass --commit or --branch")
		}
		s.commit = strings.TrimSpace(string(out))
	}
	return s, nil
}

func resolveApp(x *kit.Ctx) string {
	if a, _ := x.Flags.GetString("app"); strings.TrimSpace(a) != "" {
		return strings.TrimSpace(a)
	}
	if b, err := os.ReadFile(filepath.Join(x.Abs("."), ".convox", "app")); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	return filepath.Base(x.Abs("."))
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
func findBySearch(ctx context.Context, x *kit.Ctx, t *kit.Target) (*approval, error) {
	s, err := resolveSearch(ctx, x)
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

func checkID(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", userErr("deploy approval request ID cannot be empty")
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", userErr("invalid deploy approval request ID format: must be a valid UUID")
	}
	return id, nil
}

func runApprovalShow(ctx context.Context, x *kit.Ctx) error {
	format, err := wantJSON(x, "", "json")
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if len(x.Args) == 1 {
		id, err := checkID(x.Args[0])
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
		if format == "json" {
			return printRaw(x.Out, raw.Body)
		}
		var r approval
		if err := decode(raw, &r); err != nil {
			return err
		}
		printDetails(x, &r)
		return nil
	}
	r, err := findBySearch(ctx, x, t)
	if err != nil {
		return err
	}
	if format == "json" {
		return printJSON(x.Out, r)
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

func runApprovalRequest(ctx context.Context, x *kit.Ctx) error {
	commit, _ := x.Flags.GetString("git-commit")
	message, _ := x.Flags.GetString("message")
	branch, _ := x.Flags.GetString("branch")
	meta, _ := x.Flags.GetString("ci-metadata")
	target, _ := x.Flags.GetString("target-api-token-id")
	wait, _ := x.Flags.GetBool("wait")
	if commit = strings.TrimSpace(commit); commit == "" {
		return userErr("--git-commit is required")
	}
	if message = strings.TrimSpace(message); message == "" {
		return userErr("--message is required")
	}
	interval, err := duration(x, "poll-interval", false)
	if err != nil {
		return err
	}
	timeout, err := duration(x, "timeout", true)
	if err != nil {
		return err
	}
	body := map[string]any{"message": message, "git_commit_hash": commit}
	app := resolveApp(x)
	if app != "" {
		body["app"] = app
	}
	if b := strings.TrimSpace(branch); b != "" {
		body["git_branch"] = b
	}
	if m := strings.TrimSpace(meta); m != "" {
		var md map[string]any
		if err := json.Unmarshal([]byte(m), &md); err != nil {
			return userErr("invalid --ci-metadata JSON: %v", err)
		}
		if len(md) > 0 {
			body["ci_metadata"] = md
		}
	}
	if tg := strings.TrimSpace(target); tg != "" {
		body["target_api_token_id"] = tg
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
	if !wait {
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
