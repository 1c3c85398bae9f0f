package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/route"
)

// TestOperationsDocumented keeps docs/operations.md in step with the router: every route
// must have its row.
func TestOperationsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range route.NewGlance().Operations() {
		row := fmt.Sprintf("| `%s` | `%s %s` | %s |", ri.Name, ri.Method, ri.Pattern, ri.Body)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/operations.md lacks the row\n%s", row)
		}
	}
}
