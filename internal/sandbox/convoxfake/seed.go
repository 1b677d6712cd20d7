package convoxfake

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Fixed names, so tests and demos can rely on them.
const (
	// Name is the rack's name in GET /system.
	Name = "sandbox"
	// Version is a Convox v3 version string; CLIs compare it.
	Version    = "3.21.3"
	rackDomain = "sandbox.localhost"
	// maxLogLines bounds each app's event log.
	maxLogLines = 500
	// defaultListLimit is Convox's page size for releases and builds.
	defaultListLimit = 10
)

// Seeded identifiers.
const (
	SeedApp       = "demo"
	SeedReleaseID = "RDEMOSEEDAA"
	SeedBuildID   = "BDEMOSEEDAA"
	SeedWebPID    = "web-4f7c2a"
	SeedWorkerPID = "worker-9b3e1d"
)

// seedLocked builds the deterministic rack. Caller holds rk.mu.
func (rk *Rack) seedLocked() {
	now := rk.now().UTC()
	rk.system = System{
		Count: 2, Domain: "router." + rackDomain, Name: Name, Provider: "local",
		RackDomain: rackDomain, Region: "local", Status: "running", Type: "t3.small", Version: Version,
	}
	rk.apps = map[string]*rackApp{}
	rk.objects = map[string][]byte{}
	rk.logs = map[string][]logLine{}
	for i, id := range []string{"i-0a1b2c3d4e5f60718", "i-0a1b2c3d4e5f60719"} {
		rk.instances = append(rk.instances, Instance{
			Agent: true, CPU: 0.12, CPUCapacity: 2, ID: id, InstanceType: "t3.small", Memory: 0.34,
			MemoryCapacity: 2048, PrivateIP: fmt.Sprintf("10.0.1.%d", 11+i), Processes: 1,
			Status: "running", Started: now.Add(-72 * time.Hour),
		})
	}
	rk.seedSystemLocked(rk.instances[0].Started)
	a := &rackApp{
		name: SeedApp, generation: "2", release: SeedReleaseID, status: "running",
		parameters: map[string]string{"BuildCpu": "256", "BuildMem": "1024", "BuildLabels": ""},
		services: []*Service{
			{Count: 1, CPU: 256, Memory: 512, Name: "web", Domain: "web.demo." + rackDomain,
				Ports: []ServicePort{{Balancer: 443, Container: 3000}}},
			{Count: 1, CPU: 128, Memory: 256, Name: "worker", Ports: []ServicePort{}},
		},
	}
	rk.apps[a.name] = a
	built := now.Add(-time.Hour)
	b := &rackBuild{Build: Build{
		ID: SeedBuildID, App: SeedApp, Description: "initial build", GitSHA: "0123456789abcdef0123456789abcdef01234567",
		Manifest: manifestFor(a), Release: SeedReleaseID, Status: "complete",
		Started: built.Add(-2 * time.Minute), Ended: built,
	}, url: "object://demo/tmp/seed.tgz"}
	b.output = buildOutput(b)
	b.Logs = strings.Join(b.output, "\n") + "\n"
	rk.builds = append(rk.builds, b)
	rk.releases = append(rk.releases, &Release{
		ID: SeedReleaseID, App: SeedApp, Build: SeedBuildID, Manifest: b.Manifest, Description: "initial release",
		Env:     FormatEnv(map[string]string{"FOO": "bar", "SECRET_KEY_BASE": "sandbox-secret-key-base", "DATABASE_URL": "postgres://demo:sandbox@db.internal:5432/demo"}),
		Created: built,
	})
	for i, pid := range []string{SeedWebPID, SeedWorkerPID} {
		svc := a.services[i]
		rk.processes = append(rk.processes, &rackProcess{Process: Process{
			ID: pid, App: SeedApp, Command: "", CPU: 0.05, Host: fmt.Sprintf("10.0.1.%d", 11+i),
			Image: "registry." + rackDomain + "/demo:" + svc.Name + "." + SeedBuildID, Instance: rk.instances[i].ID,
			Memory: 0.2, Name: svc.Name, Ports: servicePortStrings(svc), Release: SeedReleaseID,
			Started: built, Status: "running",
		}})
	}
	rk.appendLogLocked(SeedApp, "system/k8s", "release "+SeedReleaseID+" promoted", built)
}

// manifestFor stands in for convox.yml, which the rack never parses: it
// lists the app's services.
func manifestFor(a *rackApp) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for _, svc := range a.services {
		fmt.Fprintf(&b, "  %s:\n    build: .\n", svc.Name)
		if len(svc.Ports) > 0 {
			fmt.Fprintf(&b, "    port: %d\n", svc.Ports[0].Container)
		}
	}
	return b.String()
}

func servicePortStrings(svc *Service) []string {
	out := []string{}
	for _, p := range svc.Ports {
		out = append(out, fmt.Sprintf("%d:%d", p.Balancer, p.Container))
	}
	return out
}

// convoxID mimics Convox ids: a prefix and 10 random upper-case letters.
func convoxID(prefix string) string {
	return prefix + randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)
}

// newProcessID is "<service>-" plus 6 random lower-case characters.
func newProcessID(service string) string {
	return service + "-" + randomFrom("abcdefghijklmnopqrstuvwxyz0123456789", 6)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("convoxfake: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ParseEnv reads Convox's KEY=VALUE text; blank and # lines are skipped.
func ParseEnv(text string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); k != "" {
			env[k] = v
		}
	}
	return env
}

// FormatEnv writes env as KEY=VALUE lines sorted by key, so releases
// compare and diff cleanly and ParseEnv(FormatEnv(env)) is env.
func FormatEnv(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + env[k] + "\n")
	}
	return b.String()
}
