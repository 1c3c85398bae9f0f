package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metrics"
	"github.com/imagegate/imagegate/policies"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// FuzzDecodeStrictJSON: what the strict decoder accepts, a standard parser reads the
// same way (so the policy and the upstream see one document), and it refuses
// everything a standard parser refuses.
func FuzzDecodeStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"name":"x","visibility":"private"}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":1}}`,
		`{"vis\u0069bility":"public","visibility":"private"}`, `{"a":1} {"b":2}`, `{"a":1}x`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "{\"a\":\"\xff\"}",
		`{"n":12345678901234567890123}`, `{"n":1e400}`, `"x"`, `null`, `{"a":"\ud800"}`, ` {"a" : [1, 2 ,{}] } `,
		`[{"op":"replace","path":"/name","value":"x"}]`, `{"":1,"":2}`, `{"a":[}`, `{"Member":"a","member":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeStrictJSONDepth(data, 0)
		var std any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&std)
		if stdErr == nil {
			if _, e := dec.Token(); !errors.Is(e, io.EOF) {
				stdErr = errors.New("trailing data")
			}
		}
		if err != nil {
			return
		}
		if stdErr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, stdErr)
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted invalid UTF-8 %q", data)
		}
		if !reflect.DeepEqual(v, std) {
			t.Fatalf("%q: strict %#v, standard %#v", data, v, std)
		}
		if d := depth(v); d > defaultMaxJSONDepth+1 {
			t.Fatalf("%q: depth %d accepted", data, d)
		}
	})
}

func depth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		m := 0
		for _, e := range x {
			m = max(m, depth(e))
		}
		return m + 1
	case []any:
		m := 0
		for _, e := range x {
			m = max(m, depth(e))
		}
		return m + 1
	}
	return 0
}

// FuzzParsePatch: a PATCH document the proxy accepts has ops whose pointers decode to
// non-empty tokens and encode back to exactly the path the upstream reads.
func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/name","value":"x"}]`, `[{"op":"add","path":"/locations/-","value":{}}]`,
		`[{"op":"remove","path":"/a~1b~0c"}]`, `[{"op":"replace","path":"/own~2er","value":1}]`,
		`[{"op":"replace","path":"/owner/","value":1}]`, `[{"op":"replace","path":"owner"}]`,
		`[{"op":"move","from":"/owner","path":"/name"}]`, `[{"op":1,"path":"/x"}]`, `{"op":"add"}`,
		`[{"op":"add","path":"/"}]`, `[{"op":"add","path":"//x"}]`, `[{"op":"add","path":"/x","value":null}]`, `[]`, `[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := decodeStrictJSONDepth(data, 0)
		if err != nil {
			return
		}
		ops, err := parsePatch(doc)
		if err != nil {
			return
		}
		arr := doc.([]any)
		if len(ops) != len(arr) {
			t.Fatalf("%d ops from %d operations", len(ops), len(arr))
		}
		for i, op := range ops {
			if op.Op == "" && arr[i].(map[string]any)["op"] != "" {
				t.Fatalf("op %d lost its name", i)
			}
			if len(op.Pointer) == 0 {
				t.Fatalf("op %d has no pointer tokens", i)
			}
			var b strings.Builder
			for _, tok := range op.Pointer {
				if tok == "" {
					t.Fatalf("op %d has an empty token: %q", i, op.Path)
				}
				b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
			}
			if b.String() != op.Path {
				t.Fatalf("pointer %q decodes to %q, which encodes to %q", op.Path, op.Pointer, b.String())
			}
			_, has := arr[i].(map[string]any)["value"]
			if has != op.HasValue {
				t.Fatalf("op %d: HasValue %v", i, op.HasValue)
			}
		}
	})
}

// FuzzReadListedImage: the obligations read an image's id, owner and visibility
// exactly as a case-sensitive client reads them (map keys, last duplicate wins).
func FuzzReadListedImage(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","owner":"1","visibility":"private"}`,
		`{"id":"a","owner":"1","visibility":"private","Visibility":"public"}`,
		`{"id":"a","owner":"1","visibility":"private","viſibility":"public"}`,
		`{"id":"a","owner":"1","visibility":"private","VISIBILITY":"public","Owner":"2","OWNER":"2","ID":"b"}`,
		`{"id":"a","owner":null,"visibility":"public"}`, `{"id":"a","owner":1,"visibility":"public"}`,
		`{"id":"a","visibility":"private","visibility":"public"}`, `{"\u0069d":"a"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		li, err := readListedImage(raw)
		var ref map[string]any
		if json.Unmarshal(raw, &ref) != nil {
			if err == nil && ref != nil {
				t.Fatalf("read %q, which is not an object", raw)
			}
			return
		}
		if err != nil {
			for _, k := range []string{"id", "owner", "visibility"} {
				if _, isStr := ref[k].(string); !isStr && ref[k] != nil {
					return // a non-string field is refused
				}
			}
			t.Fatalf("refused %q: %v", raw, err)
		}
		for k, got := range map[string]string{"id": li.ID, "owner": li.Owner, "visibility": li.Visibility} {
			want, _ := ref[k].(string)
			if got != want {
				t.Fatalf("%q: %s read as %q, a client reads %q", raw, k, got, want)
			}
		}
	})
}

// FuzzFilterByField: what a member or task list keeps has exactly the wanted value,
// read as a client reads it, and every kept entry is passed on unchanged.
func FuzzFilterByField(f *testing.F) {
	for _, s := range []string{
		`{"members":[{"member_id":"2000","status":"accepted"},{"member_id":"1000"}],"schema":"/v2/schemas/members"}`,
		`{"members":[{"member_id":"1000","Member_id":"2000"}]}`, `{"members":[{"member_id":"1000","member_Id":"2000"}]}`,
		`{"members":[{"member_id":"1000","member_id":"2000"}]}`, `{"members":{}}`, `{"members":null}`, `{}`,
		`{"members":[1,"x",null,{}]}`, `{"tasks":[{"owner":"2000"}]}`,
	} {
		f.Add([]byte(s), "2000")
	}
	f.Fuzz(func(t *testing.T, body []byte, want string) {
		var filtered int
		out, err := filterByField(body, "members", "member_id", want, &filtered)
		if err != nil {
			return
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(out, &page); err != nil {
			t.Fatalf("filtered answer is not a JSON object: %v: %q", err, out)
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(page["members"], &entries); err != nil {
			t.Fatalf("filtered answer has no members array: %q", out)
		}
		for _, e := range entries {
			var m map[string]any
			if err := json.Unmarshal(e, &m); err != nil {
				t.Fatalf("kept entry %q is not an object", e)
			}
			if v, _ := m["member_id"].(string); v != want {
				t.Fatalf("kept %q for %q (client reads member_id %q)", e, want, v)
			}
			if !bytes.Contains(body, bytes.TrimSpace(e)) && filtered == 0 {
				t.Fatalf("entry %q changed", e)
			}
		}
	})
}

// FuzzFilterImages runs the image list filter, with the shipped policies, on arbitrary
// upstream answers for tenant 2000 (no memberships). Whatever the answer, every image
// it lets through is, read as a client reads it, the caller's own, public or
// community; anything it cannot read is an error, never the unfiltered body.
func FuzzFilterImages(f *testing.F) {
	for _, s := range []string{
		`{"images":[{"id":"a","owner":"2000","visibility":"private"},{"id":"b","owner":"1000","visibility":"private"}],"first":"/v2/images"}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"private","Visibility":"public"}]}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"private","Owner":"2000"}]}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"shared"},{"id":"c","owner":"1000","visibility":"public"}]}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"private","visibility":"public"}]}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"community"}],"next":"/v2/images?marker=b"}`,
		`{"images":[{"id":"b","owner":"1000","visibility":"private"},{"id":"b","owner":"2000","visibility":"private"}]}`,
		`{"images":[]}`, `{"images":{}}`, `{"images":[{"id":"x"}]}`, `[]`, `{"images":[null]}`,
	} {
		f.Add([]byte(s))
	}
	p := newFuzzProxy(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		x := &exchange{
			op:        route.Operation{Dialect: "glance", Name: "images.list", Params: map[string]string{}},
			query:     url.Values{},
			principal: &authn.Principal{User: "u", Tenant: "2000", Roles: []string{"member"}, Issuer: "test"},
			decision:  policy.Decision{Allow: true, Filter: policy.FilterImages},
			decided:   true,
		}
		r := httptest.NewRequest("GET", "/v2/images", nil)
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		out, err := p.filterImages(r, x, body)
		if err != nil {
			return
		}
		var page struct {
			Images []map[string]any `json:"images"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			t.Fatalf("filtered answer %q: %v", out, err)
		}
		for _, img := range page.Images {
			owner, _ := img["owner"].(string)
			vis, _ := img["visibility"].(string)
			if owner != "2000" && vis != "public" && vis != "community" {
				t.Fatalf("tenant 2000 is shown %v from %q", img, body)
			}
		}
	})
}

// failingTransport answers nothing: a next page the filter asks for is an error.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no upstream in this test")
}

// newFuzzProxy is the proxy with the shipped policies and stubs, not served.
func newFuzzProxy(tb testing.TB) *Proxy {
	tb.Helper()
	return newStubbedProxy(tb, config.Default(), route.NewGlance())
}

// newStubbedProxy is a proxy of cfg with the shipped policies, a fixed principal, no
// enrichment and no reachable upstream, not served.
func newStubbedProxy(tb testing.TB, cfg config.Config, router *route.Router) *Proxy {
	tb.Helper()
	cfg.Upstream.URL = "http://127.0.0.1:1"
	engine, err := policy.New(context.Background(), policy.Source{Name: "embedded", FS: policies.FS()})
	if err != nil {
		tb.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	p, err := New(Options{
		Config: cfg, Authn: fixedAuthn{}, Router: router, Policy: engine, Enricher: stubEnricher{},
		Audit: audit.NewLogger(io.Discard, 10, m), Metrics: m, Log: slog.New(slog.DiscardHandler), Transport: failingTransport{},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
