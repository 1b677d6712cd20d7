package native_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// addRack configures a second rack, name, on a sandbox of its own, where
// email is logged in too, and returns that sandbox's environment.
func addRack(t *testing.T, e *kittest.Env, name, email string) *kittest.Env {
	t.Helper()
	other := kittest.New(t, "", false, native.Register)
	tok, err := other.Sandbox.IssueSession(email, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetToken(name, tok); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(24 * time.Hour)
	if err := p.Update(func(c *config.Config) error {
		c.Gateways[name] = &config.Gateway{URL: other.URL, Email: email, ExpiresAt: &exp}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return other
}

// twoRacks is admin on prod and staging, each with a pending request for
// app demo and commit sha from its own CI token: it returns both ids.
func twoRacks(t *testing.T) (e, staging *kittest.Env, prodID, stagingID string) {
	t.Helper()
	e = newEnv(t, admin)
	staging = addRack(t, e, "staging", admin)
	prodID = request(t, e, ciToken(t, e), sha)
	stagingID = request(t, e, ciToken(t, staging), sha, "-r", "staging")
	return e, staging, prodID, stagingID
}

// list -r a,b and -r all list every rack's requests in one table with a
// RACK column, or in one JSON list; all leaves out all_racks_exclude.
func TestApprovalListSeveralRacks(t *testing.T) {
	t.Parallel()
	e, _, prodID, stagingID := twoRacks(t)
	for _, racks := range []string{"prod,staging", "all"} {
		r := e.MustRun("deploy-approval", "list", "-r", racks)
		lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "RACK          ID  ") ||
			!strings.HasPrefix(lines[1], "prod          "+prodID+"  pending") ||
			!strings.HasPrefix(lines[2], "staging       "+stagingID+"  pending") {
			t.Errorf("list -r %s:\n%s", racks, r.Out)
		}
	}
	var res struct {
		Requests []struct {
			PublicID string `json:"public_id"`
		} `json:"deploy_approval_requests"`
	}
	r := e.MustRun("deploy-approval", "list", "-r", "staging,prod", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &res); err != nil || len(res.Requests) != 2 ||
		res.Requests[0].PublicID != stagingID || res.Requests[1].PublicID != prodID {
		t.Errorf("list --output json on two racks: %v\n%s", err, r.Out)
	}
	// One rack: upstream's table, without the RACK column.
	if r := e.MustRun("deploy-approval", "list", "-r", "staging"); !strings.HasPrefix(r.Out, "ID  ") || !strings.Contains(r.Out, stagingID) {
		t.Errorf("list -r staging:\n%s", r.Out)
	}
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Update(func(c *config.Config) error { c.AllRacksExclude = []string{"staging"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := e.MustRun("deploy-approval", "list", "-r", "all"); strings.Contains(r.Out, stagingID) || !strings.Contains(r.Out, prodID) {
		t.Errorf("list -r all with staging excluded:\n%s", r.Out)
	}
	wantErr(t, "unknown rack", e.Run("deploy-approval", "list", "-r", "prod,nosuch"), ipc.CodeNotFound, "rack nosuch is not configured")
	wantErr(t, "request on two racks", e.Run("deploy-approval", "request", "-r", "prod,staging", "--message", "m", "--git-commit", sha),
		ipc.CodeUsage, "acts on one rack")
}

// show finds an id on whichever rack has it, and a search on every rack,
// each request under its rack's name.
func TestApprovalShowSeveralRacks(t *testing.T) {
	t.Parallel()
	e, _, prodID, stagingID := twoRacks(t)
	r := e.MustRun("deploy-approval", "show", stagingID, "-r", "prod,staging")
	if !strings.HasPrefix(r.Out, "Rack:     staging\nID:       "+stagingID+"\n") {
		t.Errorf("show by id:\n%s", r.Out)
	}
	r = e.MustRun("deploy-approval", "show", "-a", "demo", "--commit", sha[:7], "-r", "all")
	if !strings.HasPrefix(r.Out, "Rack:     prod\nID:       "+prodID+"\n") || !strings.Contains(r.Out, "\n\nRack:     staging\nID:       "+stagingID+"\n") {
		t.Errorf("show by search:\n%s", r.Out)
	}
	var list []struct {
		PublicID string `json:"public_id"`
	}
	if err := json.Unmarshal([]byte(e.MustRun("deploy-approval", "show", "-a", "demo", "--commit", sha[:7], "-r", "all", "-o", "json").Out), &list); err != nil || len(list) != 2 {
		t.Errorf("show --output json on two racks: %v %+v", err, list)
	}
	wantErr(t, "show unknown id", e.Run("deploy-approval", "show", "00000000-0000-4000-8000-000000000000", "-r", "all"), ipc.CodeNotFound, "not found")
}

// approve by search on several racks approves every rack's request, each
// with its own MFA proof; a rack without one means nothing is approved.
func TestApprovalApproveSeveralRacks(t *testing.T) {
	t.Parallel()
	e, staging, prodID, stagingID := twoRacks(t)
	only := strings.Repeat("d", 40)
	request(t, e, ciToken(t, e), only)
	wantErr(t, "missing on staging", e.Run("deploy-approval", "approve", "-a", "demo", "--commit", only[:7], "-r", "all"),
		ipc.CodeNotFound, "no deploy approval request found for commit "+only[:7]+" on staging/demo; nothing was approved")

	term := &kittest.Term{Answers: []string{newCodes(e, admin).next(t), newCodes(staging, admin).next(t)}}
	r := e.RunWith(term, "deploy-approval", "approve", "-a", "demo", "--commit", sha[:7], "-r", "prod,staging")
	if r.Error != nil || len(r.Prompts) != 2 {
		t.Fatalf("approve on two racks: %s (prompts %q)", r, r.Prompts)
	}
	for _, re := range []string{
		`\nRack:     prod\nID:       ` + prodID + `\n`,
		`\n✅ Deploy approval request ` + prodID + ` approved on rack prod \(expires at \S+Z\)\n`,
		`\n✅ Deploy approval request ` + stagingID + ` approved on rack staging \(expires at \S+Z\)\n`,
		`\n✅ Successfully approved 2 requests\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.Out) {
			t.Errorf("approve on two racks lacks %q:\n%s", re, r.Out)
		}
	}
	wantOut(t, "staging approved", e.MustRun("deploy-approval", "show", stagingID, "-r", "staging"), "Status:   approved\n")
}

// wait --approve on several racks approves each rack's request and ends
// once every rack has one, listing them.
func TestApprovalWaitSeveralRacks(t *testing.T) {
	t.Parallel()
	e, staging, prodID, stagingID := twoRacks(t)
	term := &kittest.Term{Answers: []string{newCodes(e, admin).next(t), newCodes(staging, admin).next(t)}}
	r := e.RunWith(term, "deploy-approval", "wait", "--approve", "-a", "demo", "--commit", sha[:7], "-r", "prod,staging", "--poll-interval", "1ms")
	wantOut(t, "wait on two racks", r,
		"Waiting for pending deploy approval requests on 2 racks: prod, staging (apps=demo commit=0123456)\n",
		"\n📋 Deploy Approval Request Found on rack 'prod':\n  ID: "+prodID+"\n",
		"\n📋 Deploy Approval Request Found on rack 'staging':\n  ID: "+stagingID+"\n",
		" approved on rack staging (expires at ",
		"\nApproved:\n  prod  demo  "+prodID+"\n  staging  demo  "+stagingID+"\n")
	// Both approved now: the wait ends at once.
	r = e.MustRun("deploy-approval", "wait", "-a", "demo", "--commit", sha[:7], "-r", "all")
	wantOut(t, "wait approved", r, "✓ Already approved on rack prod: "+prodID+" (demo)\n", "✓ Already approved on rack staging: "+stagingID+" (demo)\n")
}
