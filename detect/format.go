package detect

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgesec/edgesec/event"
)

// FormatLine renders the SecurityAlert and SecurityRecommendation items of
// ev as one line each, for a person:
//
//	2026-12-06T12:00:01Z ALERT High IoT_ReverseShell "Reverse shells": /usr/bin/bash: redirects … [pid 4242 user root container 4f1e2d3c4b5a]
//	2026-12-06T12:00:01Z RECOMMENDATION Medium Active IoT_OpenPorts "Open ports on device": TCP 0.0.0.0:8888: /usr/bin/nc (pid 812) listens …
//
// It returns "" for any other event.
func FormatLine(ev event.Event) string {
	var b strings.Builder
	for _, it := range ev.Payload {
		switch p := it.(type) {
		case *event.SecurityAlertPayload:
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(alertLine(ev.Time, alertRow{AlertType: p.AlertType, DisplayName: p.DisplayName, Severity: p.Severity,
				Description: p.Description, ProcessID: p.ProcessID, UserName: orName(p.UserName, p.UserID), ContainerID: p.ContainerID,
				ModuleName: p.ModuleName, RemoteAddress: p.RemoteAddress, Count: p.Count}))
		case *event.SecurityRecommendationPayload:
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s RECOMMENDATION %s %s %s %q: %s: %s", event.FormatUTC(ev.Time), p.Severity, p.State, p.RecommendationType, p.Name,
				p.Entity, oneLine(p.Evidence))
		}
	}
	return b.String()
}

type alertRow struct {
	AlertType, DisplayName, Severity, Description string
	ProcessID                                     int
	UserName, ContainerID, ModuleName             string
	RemoteAddress                                 string
	Count                                         int64
}

func alertLine(t time.Time, a alertRow) string {
	var ent []string
	if a.ProcessID > 0 {
		ent = append(ent, "pid "+strconv.Itoa(a.ProcessID))
	}
	if a.UserName != "" {
		ent = append(ent, "user "+a.UserName)
	}
	if a.ModuleName != "" {
		ent = append(ent, "module "+a.ModuleName)
	} else if a.ContainerID != "" {
		ent = append(ent, "container "+shortID(a.ContainerID))
	}
	if a.RemoteAddress != "" {
		ent = append(ent, "remote "+a.RemoteAddress)
	}
	if a.Count > 1 {
		ent = append(ent, fmt.Sprintf("seen %d times", a.Count))
	}
	s := fmt.Sprintf("%s ALERT %s %s %q: %s", event.FormatUTC(t), a.Severity, a.AlertType, a.DisplayName, oneLine(a.Description))
	if len(ent) > 0 {
		s += " [" + strings.Join(ent, " ") + "]"
	}
	return s
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Row is one alert or recommendation read back from a stream of security
// messages (see [ReadRows]).
type Row struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // KindAlert or KindRecommendation
	ID       string    `json:"id"`   // AlertType or RecommendationType
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	State    string    `json:"state,omitempty"` // recommendations: Active or Resolved
	Entity   string    `json:"entity,omitempty"`
	Details  string    `json:"details"`
	Count    int64     `json:"count,omitempty"`
	// Payload is the item as it was in the message.
	Payload map[string]any `json:"payload"`
}

// ReadRows reads security messages (JSON envelopes, as the file
// transport writes them: one per line or concatenated) from r and returns
// their SecurityAlert and SecurityRecommendation items, in order. A
// message that is not JSON is an error; other events are skipped.
func ReadRows(r io.Reader) ([]Row, error) {
	d := json.NewDecoder(r)
	var rows []Row
	for {
		var m struct {
			Events []struct {
				TimestampUTC string
				Name         string
				Payload      []map[string]any
			}
		}
		if err := d.Decode(&m); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return rows, fmt.Errorf("detect: read messages: %w", err)
		}
		for _, ev := range m.Events {
			if ev.Name != event.SecurityAlert && ev.Name != event.SecurityRecommendation {
				continue
			}
			t, _ := time.Parse(time.RFC3339Nano, ev.TimestampUTC)
			for _, p := range ev.Payload {
				str := func(k string) string { s, _ := p[k].(string); return s }
				row := Row{Time: t, Severity: str("Severity"), Payload: p}
				if ev.Name == event.SecurityAlert {
					row.Kind, row.ID, row.Name, row.Details = KindAlert, str("AlertType"), str("DisplayName"), oneLine(str("Description"))
					if n, ok := p["Count"].(float64); ok {
						row.Count = int64(n)
					}
					var ent []string
					if n, ok := p["ProcessId"].(float64); ok {
						ent = append(ent, "pid "+strconv.Itoa(int(n)))
					}
					for _, k := range []string{"UserName", "ModuleName", "RemoteAddress"} {
						if v := str(k); v != "" {
							ent = append(ent, v)
						}
					}
					if str("ModuleName") == "" && str("ContainerId") != "" {
						ent = append(ent, shortID(str("ContainerId")))
					}
					row.Entity = strings.Join(ent, " ")
				} else {
					row.Kind, row.ID, row.Name, row.State, row.Entity, row.Details = KindRecommendation, str("RecommendationType"), str("Name"),
						str("State"), str("Entity"), oneLine(str("Evidence"))
				}
				rows = append(rows, row)
			}
		}
	}
}

// WriteTable writes rows as an aligned text table: time, kind, severity,
// state, id, entity and details (cut to width characters when width > 0).
func WriteTable(w io.Writer, rows []Row, width int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tKIND\tSEVERITY\tSTATE\tID\tENTITY\tDETAILS")
	for _, r := range rows {
		d := r.Details
		if r.Count > 1 {
			d = fmt.Sprintf("(x%d) %s", r.Count, d)
		}
		if width > 0 && len(d) > width {
			d = d[:width-1] + "…"
		}
		state := r.State
		if state == "" {
			state = "-"
		}
		kind := "alert"
		if r.Kind == KindRecommendation {
			kind = "recommendation"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format("2006-01-02 15:04:05"), kind, r.Severity, state, r.ID, orName(r.Entity, "-"), d)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("detect: write table: %w", err)
	}
	return nil
}
