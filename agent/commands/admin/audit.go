package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// audit-logs: GET /audit-logs (level none, gateway:audit_log:read) with
// the server's filters; --follow polls it.

func registerAudit(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "audit-logs", Usage: "audit-logs [--user EMAIL] [--status S] [--action-type T] [--since 1h] [--follow] [--output table|json|csv]",
		MaxArgs: 0, Short: "Show the gateway's audit log",
		Long: `Show the gateway's audit log, oldest first, filtered by the gateway: --user,
--status (success, error, denied), --action-type, --resource-type, --search
(any text), --range (15m, 1h, 24h, 7d, 30d, all; the gateway's default is
24h), --since (a duration such as 2h or 7d, or an RFC 3339 time) and
--until. --output csv writes the columns of the gateway's CSV export.

--follow keeps asking the gateway every --poll-interval and prints each new
entry as it appears, until Ctrl-C; with --output json, one JSON object a
line.`,
		Bind: kit.BindNew[auditOptions](),
	})
}

// auditOptions are audit-logs' flags.
type auditOptions struct {
	user, status, actionType, resourceType, search string
	rangeOf, since, until                          string
	limit, page                                    int
	output                                         kit.Output
	follow                                         bool
	interval                                       time.Duration
}

func (o *auditOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "Only this user's entries (an e-mail)")
	fs.StringVar(&o.status, "status", "", "Only entries with this status (success, error, denied)")
	fs.StringVar(&o.actionType, "action-type", "", "Only this action type (users, tokens, admin, convox, ...)")
	fs.StringVar(&o.resourceType, "resource-type", "", "Only this resource type (user, api_token, app, ...)")
	fs.StringVar(&o.search, "search", "", "Only entries containing this text")
	fs.StringVar(&o.rangeOf, "range", "", "Time range: 15m, 1h, 24h, 7d, 30d or all (the gateway's default: 24h)")
	fs.StringVar(&o.since, "since", "", "Only entries since this long ago (2h, 7d) or this RFC 3339 time")
	fs.StringVar(&o.until, "until", "", "Only entries until this RFC 3339 time")
	fs.IntVarP(&o.limit, "limit", "l", 100, "Number of entries to fetch")
	fs.IntVar(&o.page, "page", 1, "Page of entries to fetch (newest first)")
	kit.BindOutput(fs, &o.output, "o", "table", "Output format: table, json, csv")
	fs.BoolVarP(&o.follow, "follow", "f", false, "Keep printing new entries until Ctrl-C")
	fs.DurationVar(&o.interval, "poll-interval", 5*time.Second, "How often --follow asks the gateway")
}

// auditEntry is one row of the list (the gateway's aggregated entry).
type auditEntry struct {
	LastEventID       int64     `json:"last_event_id"`
	FirstSeen         time.Time `json:"first_seen"`
	LastSeen          time.Time `json:"last_seen"`
	EventCount        int       `json:"event_count"`
	MinResponseTimeMs int       `json:"min_response_time_ms"`
	MaxResponseTimeMs int       `json:"max_response_time_ms"`
	AvgResponseTimeMs int       `json:"avg_response_time_ms"`
	UserEmail         string    `json:"user_email"`
	UserName          string    `json:"user_name"`
	APITokenName      string    `json:"api_token_name"`
	ActionType        string    `json:"action_type"`
	Action            string    `json:"action"`
	Command           string    `json:"command"`
	Resource          string    `json:"resource"`
	Status            string    `json:"status"`
	IPAddress         string    `json:"ip_address"`
	UserAgent         string    `json:"user_agent"`
	raw               json.RawMessage
}

// csvHeader is the header of the gateway's CSV export, whose columns
// --output csv writes.
var csvHeader = []string{
	"first_seen", "last_seen", "user_email", "user_name", "action_type", "action",
	"command", "resource", "status", "event_count",
	"min_response_ms", "max_response_ms", "avg_response_ms", "ip_address", "user_agent",
}

func (e auditEntry) csvRecord() []string {
	return []string{
		e.FirstSeen.Format(time.RFC3339), e.LastSeen.Format(time.RFC3339), e.UserEmail, e.UserName,
		e.ActionType, e.Action, e.Command, e.Resource, e.Status, strconv.Itoa(e.EventCount),
		strconv.Itoa(e.MinResponseTimeMs), strconv.Itoa(e.MaxResponseTimeMs), strconv.Itoa(e.AvgResponseTimeMs),
		e.IPAddress, e.UserAgent,
	}
}

// auditLine is a table line. Fixed widths, so a followed log's lines line
// up without knowing the rows to come.
func auditLine(when, who, action, status, events, resource string) string {
	return strings.TrimRight(fmt.Sprintf("%-20s  %-24s  %-26s  %-7s  %-6s  %s", when, who, action, status, events, resource), " ")
}

func (e auditEntry) tableLine() string {
	who := e.UserEmail
	if who == "" && e.APITokenName != "" {
		who = "token:" + e.APITokenName
	}
	return auditLine(e.LastSeen.UTC().Format(time.RFC3339), orDash(who), e.Action, e.Status, strconv.Itoa(e.EventCount), orDash(e.Resource))
}

// parseSince reads --since: a duration (with d for days) back from now,
// or an RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad --since")
	}
	return now.Add(-d), nil
}

// query is the filters as the gateway's query parameters.
func (o *auditOptions) query(cmd *kit.Command, now time.Time) (url.Values, error) {
	q := url.Values{}
	for k, v := range map[string]string{"user": o.user, "status": o.status, "action_type": o.actionType,
		"resource_type": o.resourceType, "search": o.search, "range": o.rangeOf} {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(k, v)
		}
	}
	if o.since != "" {
		t, err := parseSince(strings.TrimSpace(o.since), now)
		if err != nil {
			return nil, kit.UsageErr(cmd, "invalid --since %q: use a duration (30m, 2h, 7d) or an RFC 3339 time", o.since)
		}
		q.Set("start", t.UTC().Format(time.RFC3339))
	}
	if o.until != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(o.until))
		if err != nil {
			return nil, kit.UsageErr(cmd, "invalid --until %q: use an RFC 3339 time (2026-01-02T15:04:05Z)", o.until)
		}
		q.Set("end", t.UTC().Format(time.RFC3339))
	}
	if o.limit <= 0 {
		return nil, kit.UsageErr(cmd, "--limit must be at least 1")
	}
	if o.page <= 0 {
		return nil, kit.UsageErr(cmd, "--page must be at least 1")
	}
	q.Set("limit", strconv.Itoa(o.limit))
	q.Set("page", strconv.Itoa(o.page))
	return q, nil
}

// fetch asks for one page; entries come back newest first.
func fetchAudit(ctx context.Context, x *kit.Ctx, t *kit.Target, q url.Values) ([]byte, []auditEntry, error) {
	var page struct {
		Logs []json.RawMessage `json:"logs"`
	}
	raw, err := native.GetJSON(ctx, x, t, "/audit-logs?"+q.Encode(), &page)
	if err != nil {
		return nil, nil, err
	}
	out := make([]auditEntry, 0, len(page.Logs))
	for _, l := range page.Logs {
		var e auditEntry
		if err := native.Decode(&gateway.Raw{URL: raw.URL, Status: raw.Status, Body: l}, &e); err != nil {
			return nil, nil, err
		}
		e.raw = l
		out = append(out, e)
	}
	return raw.Body, out, nil
}

// auditPrinter writes entries in one format, the header first.
type auditPrinter struct {
	w      io.Writer
	format string
	csv    *csv.Writer
	began  bool
}

func (p *auditPrinter) print(entries []auditEntry) error {
	if !p.began {
		p.began = true
		switch p.format {
		case "csv":
			p.csv = csv.NewWriter(p.w)
			_ = p.csv.Write(csvHeader)
		case "table":
			fmt.Fprintln(p.w, auditLine("TIME", "USER", "ACTION", "STATUS", "EVENTS", "RESOURCE"))
		}
	}
	for _, e := range entries {
		switch p.format {
		case "csv":
			_ = p.csv.Write(e.csvRecord())
		case "json":
			var buf bytes.Buffer
			if err := json.Compact(&buf, e.raw); err != nil {
				return err
			}
			fmt.Fprintln(p.w, buf.String())
		default:
			fmt.Fprintln(p.w, e.tableLine())
		}
	}
	if p.csv != nil {
		p.csv.Flush()
		return p.csv.Error()
	}
	return nil
}

// chronological returns entries oldest first.
func chronological(entries []auditEntry) []auditEntry {
	out := make([]auditEntry, len(entries))
	for i, e := range entries {
		out[len(entries)-1-i] = e
	}
	return out
}

func (o *auditOptions) Run(ctx context.Context, x *kit.Ctx) error {
	format, err := o.output.Format(x.Cmd, "", "table", "json", "csv")
	if err != nil {
		return err
	}
	if format == "" {
		format = "table"
	}
	if o.follow && (o.until != "" || o.page != 1) {
		return kit.UsageErr(x.Cmd, "--follow shows new entries as they come; it cannot be combined with --until or --page")
	}
	if o.follow && o.interval <= 0 {
		return kit.UsageErr(x.Cmd, "--poll-interval must be more than 0")
	}
	q, err := o.query(x.Cmd, time.Now())
	if err != nil {
		return err
	}
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	body, entries, err := fetchAudit(ctx, x, t, q)
	if err != nil {
		return err
	}
	p := &auditPrinter{w: x.Out, format: format}
	if !o.follow {
		switch {
		case format == "json":
			return kit.PrintRaw(x.Out, body)
		case len(entries) == 0 && format == "table":
			fmt.Fprintln(x.Out, "No audit log entries found")
			return nil
		}
		return p.print(chronological(entries))
	}
	return o.followLog(ctx, x, t, q, p, entries)
}

// followLog prints the first page, then every entry newer than the newest
// printed, asking again every interval until Ctrl-C, which ends it as a
// success (as a followed log stream ends).
func (o *auditOptions) followLog(ctx context.Context, x *kit.Ctx, t *kit.Target, q url.Values, p *auditPrinter, entries []auditEntry) error {
	var newest int64
	var since time.Time
	show := func(entries []auditEntry) error {
		var fresh []auditEntry
		for _, e := range chronological(entries) {
			if e.LastEventID > newest {
				fresh = append(fresh, e)
			}
		}
		for _, e := range fresh {
			newest = max(newest, e.LastEventID)
			if e.LastSeen.After(since) {
				since = e.LastSeen
			}
		}
		if len(fresh) == 0 && p.began {
			return nil
		}
		return p.print(fresh)
	}
	if err := show(entries); err != nil {
		return err
	}
	timer := time.NewTimer(o.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if !since.IsZero() {
			// Entries at or after the newest one printed: the same
			// second may hold more; the event ids tell them apart.
			q.Set("start", since.UTC().Format(time.RFC3339))
		}
		var batch []auditEntry
		for page := 1; page <= 10; page++ {
			q.Set("page", strconv.Itoa(page))
			_, got, err := fetchAudit(ctx, x, t, q)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			batch = append(batch, got...)
			if len(got) < o.limit || (len(got) > 0 && got[len(got)-1].LastEventID <= newest) {
				break
			}
		}
		if err := show(batch); err != nil {
			return err
		}
		timer.Reset(o.interval)
	}
}
