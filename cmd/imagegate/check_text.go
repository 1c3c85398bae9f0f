package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
)

// writeCheckText prints a check report for a person: the verdict first, then what was
// decided about, the reasons with the rules that gave them, and the other rules that
// evaluated true.
func writeCheckText(w io.Writer, rep *checkReport) error {
	var b strings.Builder
	d := rep.Decision
	verdict := "DENY"
	if d.Allow {
		verdict = "ALLOW"
	}
	status := d.Status
	if d.Allow {
		status = http.StatusOK
	}
	fmt.Fprintf(&b, "%s %d", verdict, status)
	if d.Code != "" {
		b.WriteString(" " + d.Code)
	}
	switch rep.Stage {
	case stagePolicy:
		fmt.Fprintf(&b, "  (policy %s, revision %s)", rep.Policy, rep.Revision)
	case stageRoute:
		b.WriteString("  (refused by the router, before the policy)")
	case stageAuthn:
		b.WriteString("  (refused by authentication, before the policy)")
	case stageBody:
		b.WriteString("  (refused while reading the body, before the policy)")
	}
	b.WriteString("\n")
	if d.Hide {
		b.WriteString("hidden: the caller gets 404 Not Found, as for an image that does not exist\n")
	}
	if d.Filter != "" {
		fmt.Fprintf(&b, "obligation: the response is filtered (%s)\n", d.Filter)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	req := rep.method + " " + rep.target
	if op := rep.Operation; op != nil {
		req += " → " + op.Name
		if op.Deprecated {
			req += " (deprecated)"
		}
	}
	fmt.Fprintf(tw, "request\t%s\n", req)
	fmt.Fprintf(tw, "deployment\tdialect %s, upstream mode %s\n", rep.dialect, rep.mode)
	if p := rep.principal; p != nil {
		who := fmt.Sprintf("user %s, tenant %s, roles [%s]", p.User, p.Tenant, strings.Join(p.Roles, ", "))
		if p.Reseller != "" {
			who += ", reseller " + p.Reseller
		}
		if p.Client != "" {
			who += ", client " + p.Client
		}
		fmt.Fprintf(tw, "principal\t%s\n", who)
	}
	namesImage := rep.Operation != nil && rep.Operation.Params["image_id"] != ""
	if rep.Stage == stagePolicy && (namesImage || rep.image != nil) {
		img := "none (null): no such image"
		if m := rep.image; m != nil {
			img = fmt.Sprintf("%v, owner %v, visibility %v", m["id"], m["owner"], m["visibility"])
		}
		fmt.Fprintf(tw, "image\t%s\n", img)
		if m := rep.membership; m != nil {
			fmt.Fprintf(tw, "membership\t%s %s\n", m.MemberID, m.Status)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	b.WriteString("\nreasons\n")
	if len(d.Reasons) == 0 {
		b.WriteString("  (none given)\n")
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "  %s\n", r)
		for _, fr := range rep.Rules {
			if s, ok := fr.Value.(string); ok && fr.Reason && s == r {
				fmt.Fprintf(&b, "      from %s  %s\n", fr.Rule, fr.Location)
			}
		}
	}

	if len(rep.Rules) > 0 {
		b.WriteString("\nrules that evaluated true\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, fr := range rep.Rules {
			// Every line ends its rule cell with a tab, so the values line up.
			line := "  " + fr.Location + "\t" + fr.Rule + "\t"
			if fr.Value != nil {
				line += shortJSON(fr.Value)
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\nnotes\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	if len(rep.Explanation) > 0 {
		b.WriteString("\nexplanation (OPA trace)\n")
		for _, l := range rep.Explanation {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortJSON prints a rule's value compactly, as Rego would write it.
func shortJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
