package convoxfake

import "time"

// The exported types are the Convox API's JSON shapes (pkg/structs in the
// Convox source), with the fields a CLI reads. They are exported so a
// gateway in front of the rack can decode an answer, change it and render
// it again byte for byte (see WriteJSON), and so tests can decode answers.

// System is structs.System: GET /system.
type System struct {
	Count      int               `json:"count"`
	Domain     string            `json:"domain"`
	Name       string            `json:"name"`
	Parameters map[string]string `json:"parameters"`
	Provider   string            `json:"provider"`
	RackDomain string            `json:"rack-domain"`
	Region     string            `json:"region"`
	Status     string            `json:"status"`
	Type       string            `json:"type"`
	Version    string            `json:"version"`
}

// App is structs.App: GET /apps and /apps/{name}.
type App struct {
	Generation string            `json:"generation,omitempty"`
	Locked     bool              `json:"locked"`
	Name       string            `json:"name"`
	Release    string            `json:"release"`
	Router     string            `json:"router"`
	Status     string            `json:"status"`
	Parameters map[string]string `json:"parameters"`
}

// Service is structs.Service without the GPU, NLB and autoscale fields.
type Service struct {
	Count  int           `json:"count"`
	CPU    int           `json:"cpu"`
	Domain string        `json:"domain"`
	Memory int           `json:"memory"`
	Name   string        `json:"name"`
	Ports  []ServicePort `json:"ports"`
}

// ServicePort is one balancer → container port mapping of a Service.
type ServicePort struct {
	Balancer    int    `json:"balancer"`
	Certificate string `json:"certificate"`
	Container   int    `json:"container"`
}

// Process is structs.Process.
type Process struct {
	ID       string    `json:"id"`
	App      string    `json:"app"`
	Command  string    `json:"command"`
	CPU      float64   `json:"cpu"`
	Host     string    `json:"host"`
	Image    string    `json:"image"`
	Instance string    `json:"instance"`
	Memory   float64   `json:"memory"`
	Name     string    `json:"name"`
	Ports    []string  `json:"ports"`
	Release  string    `json:"release"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
}

// Release is structs.Release. Env is KEY=VALUE lines, unmasked: masking
// secrets is the gateway's business, not the rack's.
type Release struct {
	ID          string    `json:"id"`
	App         string    `json:"app"`
	Build       string    `json:"build"`
	Env         string    `json:"env"`
	Manifest    string    `json:"manifest"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// Build is structs.Build.
type Build struct {
	ID          string    `json:"id"`
	App         string    `json:"app"`
	Description string    `json:"description"`
	Entrypoint  string    `json:"entrypoint"`
	GitSHA      string    `json:"git-sha"`
	Logs        string    `json:"logs"`
	Manifest    string    `json:"manifest"`
	Process     string    `json:"process"`
	Release     string    `json:"release"`
	Reason      string    `json:"reason"`
	Repository  string    `json:"repository"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
}

// Instance is structs.Instance, the fields a CLI shows.
type Instance struct {
	Agent          bool      `json:"agent"`
	CPU            float64   `json:"cpu"`
	CPUCapacity    float64   `json:"cpu-capacity"`
	ID             string    `json:"id"`
	InstanceType   string    `json:"instance-type,omitempty"`
	Memory         float64   `json:"memory"`
	MemoryCapacity float64   `json:"memory-capacity"`
	PrivateIP      string    `json:"private-ip"`
	Processes      int       `json:"processes"`
	PublicIP       string    `json:"public-ip"`
	Status         string    `json:"status"`
	Started        time.Time `json:"started"`
}

// rackApp is the rack's record of an app; App is how it is shown.
type rackApp struct {
	name       string
	generation string
	release    string
	status     string
	// settle makes a transient status ("creating", "updating") last for
	// exactly one read, so a client's wait loop sees it once and then
	// "running" without the rack running timers.
	settle     bool
	locked     bool
	parameters map[string]string
	services   []*Service
}

// rackProcess is a Process plus whether `run` started it: a one-off is not
// replaced when it stops and does not log traffic.
type rackProcess struct {
	Process
	oneOff bool
	env    map[string]string // a one-off's Environment header, on top of its release's env
}

// rackBuild is a Build plus what it builds from and its log lines.
type rackBuild struct {
	Build
	url    string   // the object it builds from; "" for an external build
	output []string // build log lines, streamed by builds/{id}/logs
}

// logLine is one line of an app's (or the rack's) log.
type logLine struct {
	at     time.Time
	source string // e.g. "service/web/web-4f7c2a", "build/BXXXX", "system/k8s"
	text   string
}
