package ipc

import (
	"errors"
	"testing"
)

func TestExitStatusTable(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		"": ExitOK, CodeUsage: ExitUsage, CodeBadRequest: ExitUsage, CodeStepUpRequired: ExitStepUp,
		CodeNotLoggedIn: ExitAuth, CodeSessionExpired: ExitAuth, CodeAgentUnavailable: ExitUnavailable,
		CodeAgentRunning: ExitUnavailable, CodeInterrupted: ExitInterrupted, CodeGateway: ExitError,
		CodeKeyring: ExitError, CodeSecretStore: ExitError, CodeConfig: ExitError, CodeMFALocked: ExitError,
	} {
		if got := ExitStatus(code); got != want {
			t.Errorf("ExitStatus(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestWrapKeepsTheCauseButNotOnTheWire(t *testing.T) {
	t.Parallel()
	cause := errors.New("root")
	e := Wrap(CodeGateway, cause, "said %s", "no").WithHint("try again")
	if !errors.Is(e, cause) || e.Message != "said no" || e.Hint != "try again" {
		t.Fatalf("%#v", e)
	}
	if r := e.Render(); r != "Error: said no\ntry again\n" {
		t.Errorf("Render %q", r)
	}
	if i := Interrupted("stop"); i.Code != CodeInterrupted || errors.Unwrap(i) != nil {
		t.Errorf("%#v", i)
	}
}
