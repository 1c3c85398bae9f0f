package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// newGcoreProxy is the proxy of the gcore dialect with the shipped policies, not served.
func newGcoreProxy(tb testing.TB) *Proxy {
	tb.Helper()
	cfg := config.Default()
	cfg.Dialect = config.DialectGcore
	cfg.Reseller.Source = config.ResellerFromUpstream
	return newStubbedProxy(tb, cfg, route.NewGcore())
}

// gcoreExchange is a request of project 7, a client of reseller 1001, with catalog as
// its looked-up limits and shared images.
func gcoreExchange(tb testing.TB, p *Proxy, target string, catalog map[string]any) (*http.Request, *exchange) {
	tb.Helper()
	r := httptest.NewRequest("GET", target, nil)
	op, q, err := p.router.Resolve(r, 0)
	if err != nil {
		tb.Fatal(err)
	}
	x := &exchange{op: op, query: q, reseller: catalog,
		principal: &authn.Principal{Tenant: "7", Client: "70", Reseller: "1001", Roles: []string{"member"}}}
	return r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)), x
}

func v1Image(id, project, visibility string) string {
	return fmt.Sprintf(`{"id":%q,"name":"n","project_id":%s,"region":"Luxembourg","region_id":1,"visibility":%q,"metadata_detailed":[]}`, id, project, visibility)
}

func TestFilterResults(t *testing.T) {
	p := newGcoreProxy(t)
	catalog := map[string]any{"limits": map[string]any{"1001": map[string]any{"1": []any{"pub-a"}}}, "shared": map[string]any{}}
	page := `{"count": 9, "results": [` + strings.Join([]string{
		v1Image("own", "7", "private"), v1Image("pub-a", "1", "public"), v1Image("pub-b", "1", "public"),
		v1Image("other", "8", "private"),
		// An upstream that ignored the region: an image of region 2 is not listed here.
		`{"id":"elsewhere","project_id":7,"region_id":2,"visibility":"private"}`,
		// Keys are read by their exact names, as every client reads them.
		`{"id":"tricky","project_id":8,"region_id":1,"visibility":"private","Visibility":"public","Project_id":7}`,
	}, ",") + `], "extra": true}`
	r, x := gcoreExchange(t, p, "/v1/images/7/1", catalog)
	out, err := p.filterResults(r, x, []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
		Extra   bool             `json:"extra"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, res := range got.Results {
		ids = append(ids, res["id"].(string))
	}
	if strings.Join(ids, ",") != "own,pub-a" || got.Count != 5 || !got.Extra || x.filtered != 4 {
		t.Fatalf("kept %v, count %d, filtered %d: %s", ids, got.Count, x.filtered, out)
	}

	// Nothing hidden: the page passes byte for byte.
	body := `{"count":1,"results":[` + v1Image("own", "7", "private") + `]}`
	if out, err := p.filterResults(r, x, []byte(body)); err != nil || string(out) != body {
		t.Fatalf("unfiltered page changed: %s %v", out, err)
	}

	for name, bad := range map[string]string{
		"not an object":             `[]`,
		"no results":                `{"count": 0}`,
		"an item without region":    `{"results":[{"id":"a","project_id":7,"visibility":"public"}]}`,
		"an item without id":        `{"results":[{"project_id":7,"region_id":1,"visibility":"public"}]}`,
		"a project that is no id":   `{"results":[{"id":"a","project_id":"x","region_id":1,"visibility":"public"}]}`,
		"a count that is no number": `{"count":"many","results":[` + v1Image("other", "8", "private") + `]}`,
		"an id twice":               `{"results":[` + v1Image("own", "7", "private") + `,` + v1Image("own", "8", "private") + `]}`,
	} {
		if _, err := p.filterResults(r, x, []byte(bad)); err == nil {
			t.Errorf("%s: filtered without error", name)
		}
	}
}

func TestCheckGcoreImage(t *testing.T) {
	p := newGcoreProxy(t)
	catalog := map[string]any{"limits": map[string]any{"1001": map[string]any{"1": []any{}}}}
	r, x := gcoreExchange(t, p, "/v1/images/7/1/img", catalog)
	if _, err := p.checkGcoreImage(r, x, []byte(v1Image("img", "7", "private"))); err != nil {
		t.Fatalf("own image: %v", err)
	}
	if _, err := p.checkGcoreImage(r, x, []byte(v1Image("img", "1", "public"))); !errors.Is(err, errHidden) {
		t.Fatalf("a public image outside the limit: %v", err)
	}
	if _, err := p.checkGcoreImage(r, x, []byte(v1Image("other", "7", "private"))); err == nil || errors.Is(err, errHidden) {
		t.Fatalf("another image in the answer: %v", err)
	}
	if _, err := p.checkGcoreImage(r, x, []byte(`{"id":"img"}`)); err == nil {
		t.Fatal("a record without visibility passed")
	}
}

// BenchmarkFilterResults1000 filters a page of 1,000 public images for a client of a
// reseller whose limit lists 200 of them: one policy call, the page parsed and written.
// Target (docs/benchmarks.md, Gcore dialect): under 5 ms.
func BenchmarkFilterResults1000(b *testing.B) {
	p := newGcoreProxy(b)
	limit := make([]any, 0, 200)
	records := make([]string, 1000)
	for i := range records {
		id := fmt.Sprintf("9a1e0c2e-0000-4000-8000-%012d", i)
		records[i] = v1Image(id, "1", "public")
		if i%5 == 0 {
			limit = append(limit, id)
		}
	}
	page := []byte(`{"count":1000,"results":[` + strings.Join(records, ",") + `]}`)
	catalog := map[string]any{"limits": map[string]any{"1001": map[string]any{"1": limit}}, "shared": map[string]any{}}
	r, x := gcoreExchange(b, p, "/v1/images/7/1", catalog)
	out, err := p.filterResults(r, x, page)
	if err != nil {
		b.Fatal(err)
	}
	var got struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(out, &got); err != nil || got.Count != 200 {
		b.Fatalf("count %d, want 200 (%v)", got.Count, err)
	}
	b.Run("filter", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.filterResults(r, x, page); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The policy's share: visible_ids over the page, input conversion included.
	items := make([]policy.Item, 0, 1000)
	for i := range 1000 {
		items = append(items, policy.Item{ID: fmt.Sprintf("9a1e0c2e-0000-4000-8000-%012d", i), Owner: "1", Visibility: "public", Region: "1"})
	}
	b.Run("policy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.policy.VisibleIDs(r.Context(), p.input(r, x), items); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestObjectScanner(t *testing.T) {
	raw := []byte(` { "a" : [1, {"b": "]}"}], "\u0069d": "x\"y", "n": -1.5e3, "t": true, "e": {} } `)
	got := map[string]string{}
	if err := objectFields(raw, func(k []byte, start, end int) { got[string(k)] = string(raw[start:end]) }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": `[1, {"b": "]}"}]`, "id": `"x\"y"`, "n": "-1.5e3", "t": "true", "e": "{}"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{`[1,2`, `{"a" 1}`, `{"a":1`, `"s"`, `{"a":"open}`, `[1 2]`} {
		if err := objectFields([]byte(bad), func([]byte, int, int) {}); err == nil {
			t.Errorf("%s: scanned without error", bad)
		}
	}
}

// TestValidObjectFieldsElements: the elements of the named array are found in the
// validating pass, the last member of that name counting, as it does for the members.
func TestValidObjectFieldsElements(t *testing.T) {
	tests := []struct {
		doc  string
		want []string // nil: no array
	}{
		{`{"images": [ {"a":[1]} , "s", 2 ], "next": "x"}`, []string{`{"a":[1]}`, `"s"`, `2`}},
		{`{"images": []}`, []string{}},
		{`{"images": null}`, nil},
		{`{"images": {"0": 1}}`, nil},
		{`{"other": [1]}`, nil},
		{`{"images": [1], "images": [2, 3]}`, []string{`2`, `3`}},
		{`{"images": [1], "images": "x"}`, nil},
		{`{"\u0069mages": [4]}`, []string{`4`}},
		{`{"images": [[5], {"images": [6]}]}`, []string{`[5]`, `{"images": [6]}`}},
	}
	for _, tt := range tests {
		got, err := validObjectFields([]byte(tt.doc), "images", func([]byte, int, int) {})
		if err != nil {
			t.Errorf("%s: %v", tt.doc, err)
			continue
		}
		if (got == nil) != (tt.want == nil) || len(got) != len(tt.want) {
			t.Errorf("%s: elements %q, want %q", tt.doc, got, tt.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tt.want[i] {
				t.Errorf("%s: element %d is %s, want %s", tt.doc, i, got[i], tt.want[i])
			}
		}
	}
	for _, bad := range []string{`{"images": [1,2}`, `{"images": [1 2]}`, `{"images": [1,]}`, `{"images": [}`, `{"images": [1]`} {
		if _, err := validObjectFields([]byte(bad), "images", func([]byte, int, int) {}); err == nil {
			t.Errorf("%s: read without error", bad)
		}
	}
}

// failingReseller is an enricher whose reseller lookup fails.
type failingReseller struct{ stubEnricher }

func (failingReseller) Reseller(context.Context, string, string, string) (map[string]any, error) {
	return nil, errors.New("reseller endpoint down")
}

// A reseller lookup that fails denies the request 502 before any decision: deciding
// without the limits would let a reseller's client see every image.
func TestResellerLookupFailureDenies(t *testing.T) {
	p := newGcoreProxy(t)
	p.enricher = failingReseller{}
	for _, target := range []string{"/v1/images/7/1", "/v1/images/7/1/" + stubImage} {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		var eb struct{ Error struct{ Type string } }
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || w.Code != http.StatusBadGateway || eb.Error.Type != codeEnrichError {
			t.Errorf("%s: %d %s, want 502 %s", target, w.Code, w.Body, codeEnrichError)
		}
	}
}

// readGcoreImage decodes id and visibility as encoding/json does, and refuses a record
// whose id or visibility is missing, null or not a string.
func TestReadGcoreImageStrings(t *testing.T) {
	rec := func(id, vis string) []byte {
		return []byte(`{"id":` + id + `,"project_id":7,"region_id":1,"visibility":` + vis + `}`)
	}
	var want struct{ ID string }
	if err := json.Unmarshal(rec("\"a\xffb\"", `"private"`), &want); err != nil {
		t.Fatal(err)
	}
	it, err := readGcoreImage(rec("\"a\xffb\"", `"private"`))
	if err != nil || it.ID != want.ID || it.ID != "a\uFFFDb" {
		t.Fatalf("id %q (%v), encoding/json reads %q", it.ID, err, want.ID)
	}
	if it, err := readGcoreImage(rec(`"a\u0062"`, `"pri\u0076ate"`)); err != nil || it.ID != "ab" || it.Visibility != "private" {
		t.Fatalf("escaped strings: %+v %v", it, err)
	}
	for _, bad := range [][2]string{{`null`, `"private"`}, {`7`, `"private"`}, {`""`, `"private"`}, {`"a"`, `null`}, {`"a"`, `1`}} {
		if _, err := readGcoreImage(rec(bad[0], bad[1])); err == nil {
			t.Errorf("id %s, visibility %s: read without error", bad[0], bad[1])
		}
	}
}
