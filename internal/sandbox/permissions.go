package sandbox

import "strings"

// Role permission sets. Sessions are authorised by their user's
// roles; API tokens by their own permission list. Wildcards ("convox:*:*",
// "convox:app:*") match per segment.

var viewerPerms = []string{
	"convox:app:list", "convox:app:read", "convox:process:list", "convox:process:read",
	"convox:instance:list", "convox:instance:read", "convox:log:read",
	"convox:build:list", "convox:build:read", "convox:rack:read",
}

var opsPerms = append(append([]string(nil), viewerPerms...),
	"convox:app:restart", "convox:process:start", "convox:process:exec",
	"convox:process:terminate", "convox:release:list", "convox:env:read",
)

var rolePerms = map[string][]string{
	"viewer": viewerPerms,
	"ops":    opsPerms,
	"deployer": append(append([]string(nil), opsPerms...),
		"convox:build:create", "convox:object:create", "convox:release:create",
		"convox:release:read", "convox:release:promote", "convox:env:set", "convox:app:update",
		"gateway:deploy_approval_request:create", "gateway:deploy_approval_request:read",
	),
	"cicd": {
		"convox:app:list", "convox:app:read", "convox:process:list", "convox:process:read",
		"convox:instance:list", "convox:instance:read", "convox:rack:read",
		"gateway:deploy_approval_request:create", "gateway:deploy_approval_request:read",
		"convox:deploy:deploy_with_approval",
	},
	"admin": {"convox:*:*", "gateway:*:*"},
}

func (s *Server) hasPermission(p *principal, perm string) bool {
	var granted []string
	if p.isAPIToken() {
		granted = p.token.permissions
	} else {
		for _, role := range p.user.roles {
			granted = append(granted, rolePerms[role]...)
		}
	}
	for _, g := range granted {
		if permissionMatches(g, perm) {
			return true
		}
	}
	return false
}

func permissionMatches(granted, want string) bool {
	g := strings.Split(granted, ":")
	w := strings.Split(want, ":")
	if len(g) != 3 || len(w) != 3 {
		return granted == want
	}
	for i := range g {
		if g[i] != "*" && g[i] != w[i] {
			return false
		}
	}
	return true
}
