package attack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docRow is a corpus row as docs/security.md lists it.
func docRow(ac attackCase) string {
	outcome := fmt.Sprintf("%d", ac.status)
	if ac.typ != "" {
		outcome += " `" + ac.typ + "`"
	}
	switch {
	case ac.server:
		outcome += " (net/http)"
	case ac.forward != "":
		outcome += ", forwarded exactly"
	}
	dialect := "all"
	if ac.only != "" {
		dialect = ac.only
	}
	return fmt.Sprintf("| %s | %s | %s | %s |", ac.name, ac.threat, outcome, dialect)
}

// TestSecurityDocListsEveryCase keeps docs/security.md and the corpus in step. With
// IMAGEGATE_PRINT_CORPUS=1 it prints the tables to paste.
func TestSecurityDocListsEveryCase(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	var print strings.Builder
	cat := ""
	for _, ac := range corpus() {
		if ac.cat != cat {
			cat = ac.cat
			fmt.Fprintf(&print, "\n### %s\n\n| case | threat | answer | dialects |\n|---|---|---|---|\n", cat)
		}
		row := docRow(ac)
		print.WriteString(row + "\n")
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/security.md does not list: %s", row)
		}
	}
	if os.Getenv("IMAGEGATE_PRINT_CORPUS") != "" {
		fmt.Print(print.String())
	}
}
