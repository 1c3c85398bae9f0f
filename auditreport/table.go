package auditreport

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints a summary as plain-text tables for a reviewer.
func WriteTable(w io.Writer, s Summary) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				tw.Write([]byte{'\t'})
			}
			fmt.Fprint(tw, c)
		}
		tw.Write([]byte{'\n'})
	}
	section := func(title string) {
		tw.Flush()
		fmt.Fprintf(&b, "\n%s\n", title)
	}

	b.WriteString("Decision log summary\n")
	row("  files", strings.Join(s.Files, ", "))
	malformed := ""
	if s.Malformed > 0 {
		malformed = fmt.Sprintf(" (%d malformed lines skipped)", s.Malformed)
	}
	row("  events", fmt.Sprintf("%d%s", s.Events, malformed))
	if s.From != nil {
		row("  period", s.From.Format(time.RFC3339)+" … "+s.To.Format(time.RFC3339))
	}
	row("  allowed", percent(s.Totals.Allow, s.Totals.Requests))
	denied := percent(s.Totals.Deny, s.Totals.Requests)
	if s.Totals.DryRun > 0 {
		denied += fmt.Sprintf(", %d forwarded in dry-run mode", s.Totals.DryRun)
	}
	row("  denied", denied)
	row("  errors", percent(s.Totals.Error, s.Totals.Requests))
	if s.Totals.ShadowDiffer > 0 {
		row("  shadow differs", s.Totals.ShadowDiffer)
	}
	revs := make([]string, len(s.Revisions))
	for i, c := range s.Revisions {
		revs[i] = fmt.Sprintf("%s (%d)", c.Key, c.Count)
	}
	if len(revs) > 0 {
		row("  policy revisions", strings.Join(revs, ", "))
	}
	for _, m := range s.MalformedExamples {
		row("  malformed", m)
	}

	counts := func(title, key string, cs []Count) {
		section(title)
		if len(cs) == 0 {
			row("  (none)")
			return
		}
		row("  "+key, "DENIED")
		for _, c := range cs {
			row("  "+c.Key, c.Count)
		}
	}
	counts("Denials by tenant", "TENANT", s.DenialsByTenant)
	counts("Denials by operation", "OPERATION", s.DenialsByOperation)
	counts("Denials by code", "CODE", s.DenialsByCode)
	section("Denials by reason")
	if len(s.DenialsByReason) == 0 {
		row("  (none)")
	} else {
		row("  DENIED", "REASON")
		for _, c := range s.DenialsByReason {
			row(fmt.Sprintf("  %d", c.Count), c.Key)
		}
	}

	talkers := func(title, key string, ts []Talker) {
		section(title)
		if len(ts) == 0 {
			row("  (none)")
			return
		}
		row("  "+key, "REQUESTS", "ALLOWED", "DENIED", "ERRORS")
		for _, t := range ts {
			row("  "+t.Key, t.Requests, t.Allow, t.Deny, t.Error)
		}
	}
	talkers("Top talkers: tenants", "TENANT", s.TopTenants)
	talkers("Top talkers: users", "USER (TENANT)", s.TopUsers)
	talkers("Top talkers: client addresses", "ADDRESS", s.TopClients)

	if img := s.Image; img != nil {
		section("Accesses to image " + img.ID)
		if len(img.Callers) == 0 {
			row("  (none)")
		} else {
			row("  TENANT", "USER", "ALLOWED", "DENIED", "ERRORS", "FIRST", "LAST")
			for _, c := range img.Callers {
				row("  "+c.Tenant, c.User, c.Allow, c.Deny, c.Error, c.First.Format(time.RFC3339), c.Last.Format(time.RFC3339))
			}
			tw.Flush()
			b.WriteString("\n")
			row("  TIME", "TENANT", "USER", "OPERATION", "DECISION", "STATUS", "REASONS")
			for _, a := range img.Accesses {
				status := fmt.Sprint(a.Status)
				if a.Code != "" {
					status += " " + a.Code
				}
				decision := a.Decision
				if a.DryRun {
					decision += " (dry run)"
				}
				row("  "+a.Time.Format(time.RFC3339), a.Tenant, a.User, a.Operation, decision, status, strings.Join(a.Reasons, "; "))
			}
			if img.Omitted > 0 {
				tw.Flush()
				fmt.Fprintf(&b, "  … %d more accesses not listed\n", img.Omitted)
			}
		}
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// percent prints n of total with its share.
func percent(n, total int) string {
	if total == 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(total))
}
