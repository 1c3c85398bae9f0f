package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func gcoreClient(t *testing.T, h http.HandlerFunc) (*Client, *int) {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := New(Options{Dialect: "gcore", Upstream: u, HTTPClient: srv.Client(), TTL: time.Minute,
		ResellerTTL: time.Minute, MaxEntries: 100, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestGcoreImage(t *testing.T) {
	c, calls := gcoreClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/images/7/1/img-1":
			_, _ = w.Write([]byte(`{"id":"img-1","project_id":12345678901234567,"region_id":1,"visibility":"private"}`))
		case "/v1/images/7/1/bad":
			_, _ = w.Write([]byte(`{"id":"bad","project_id":7,"visibility":"private"}`))
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	ref := ImageRef{ID: "img-1", Project: "7", Region: "1"}
	img, err := c.Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if img["project_id"] != json.Number("12345678901234567") {
		t.Fatalf("project_id = %#v, want its exact digits", img["project_id"])
	}
	if _, err := c.Image(ctx, ref); err != nil || *calls != 1 {
		t.Fatalf("second lookup: %v, %d calls", err, *calls)
	}
	// The same id in another region is another record (here: none).
	if img, err := c.Image(ctx, ImageRef{ID: "img-1", Project: "7", Region: "2"}); err != nil || img != nil {
		t.Fatalf("other region: %v %v", img, err)
	}
	c.Invalidate(ref)
	if _, err := c.Image(ctx, ref); err != nil || *calls != 3 {
		t.Fatalf("after invalidation: %v, %d calls", err, *calls)
	}
	if _, err := c.Image(ctx, ImageRef{ID: "bad", Project: "7", Region: "1"}); !errors.Is(err, ErrUpstream) {
		t.Fatalf("a record without region_id: %v", err)
	}
}

func TestResellerLookups(t *testing.T) {
	var paths []string
	c, calls := gcoreClient(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		switch {
		case r.URL.Path == "/v1/reseller_image/1001":
			_, _ = w.Write([]byte(`{"count":2,"results":[{"reseller_id":1001,"region_id":1,"image_ids":["a"]},{"reseller_id":1001,"region_id":2,"image_ids":null}]}`))
		case r.URL.Path == "/v1/shared_image" && r.URL.Query().Get("entity_type") == "client":
			_, _ = w.Write([]byte(`{"count":1,"results":[{"entity_type":"client","entity_id":70,"region_id":1,"image_ids":["s"]}]}`))
		case r.URL.Path == "/v1/shared_image":
			_, _ = w.Write([]byte(`{"count":0,"results":[]}`))
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	doc, err := c.Reseller(ctx, "1001", "70", "7")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"limits": map[string]any{"1001": map[string]any{"1": []any{"a"}, "2": nil}},
		"shared": map[string]any{
			"reseller": map[string]any{},
			"client":   map[string]any{"70": map[string]any{"1": []any{"s"}}},
			"project":  map[string]any{},
		},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("doc = %#v", doc)
	}
	if v, ok := doc["limits"].(map[string]any)["1001"].(map[string]any)["2"]; !ok || v != nil {
		t.Fatalf("image_ids null became %#v, want an untyped nil (null for the policy)", v)
	}
	if *calls != 4 || !strings.Contains(strings.Join(paths, " "), "/v1/shared_image?entity_id=70&entity_type=client") {
		t.Fatalf("%d calls: %v", *calls, paths)
	}
	if _, err := c.Reseller(ctx, "1001", "70", "7"); err != nil || *calls != 4 {
		t.Fatalf("cached: %v, %d calls", err, *calls)
	}
	c.InvalidateReseller()
	if _, err := c.Reseller(ctx, "", "", "7"); err != nil || *calls != 5 {
		t.Fatalf("after a write: %v, %d calls", err, *calls)
	}
}

func TestResellerLookupRefusesBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"no results":         `{"count":0}`,
		"image_ids a string": `{"results":[{"reseller_id":1001,"region_id":1,"image_ids":"a"}]}`,
		"not JSON":           `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := gcoreClient(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
			if _, err := c.Reseller(context.Background(), "1001", "", ""); !errors.Is(err, ErrUpstream) {
				t.Fatalf("err = %v, want ErrUpstream", err)
			}
		})
	}
}

func TestResellerDocumentRefusals(t *testing.T) {
	row := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name           string
		limits, shared []any
		want           string
	}{
		{"image_ids of the wrong type", []any{row("reseller_id", 1, "region_id", 1, "image_ids", "x")}, nil, "reseller_image[0].image_ids: want null or a list of image ids, got a string"},
		{"an image id that is a number", []any{row("reseller_id", 1, "region_id", 1, "image_ids", []any{5})}, nil, "reseller_image[0].image_ids[0]: want an image id"},
		{"a missing region_id", []any{row("reseller_id", 1, "image_ids", nil)}, nil, "reseller_image[0].region_id: missing"},
		{"a missing reseller_id", []any{row("region_id", 1, "image_ids", nil)}, nil, "reseller_image[0].reseller_id: missing"},
		{"a region that is no id", []any{row("reseller_id", 1, "region_id", "eu", "image_ids", nil)}, nil, "reseller_image[0].region_id: want an integer id"},
		{"a negative id", []any{row("reseller_id", -1, "region_id", 1, "image_ids", nil)}, nil, "reseller_image[0].reseller_id: want an integer id"},
		{"an unknown field", []any{row("reseller_id", 1, "region_id", 1, "image_ids", nil, "client_id", 1)}, nil, `unknown field "client_id"`},
		{"a duplicate row", []any{row("reseller_id", 1, "region_id", 1, "image_ids", nil), row("reseller_id", "1", "region_id", 1.0, "image_ids", []any{})}, nil, "reseller_image[1]: a second row for reseller 1 in region 1"},
		{"a row that is no object", []any{"1001"}, nil, "reseller_image[0]: want an object"},
		{"an unknown entity_type", nil, []any{row("entity_type", "tenant", "entity_id", 1, "region_id", 1, "image_ids", nil)}, "shared_image[0].entity_type: want one of reseller, client, project, got tenant"},
		{"a shared row without region", nil, []any{row("entity_type", "client", "entity_id", 1, "image_ids", nil)}, "shared_image[0].region_id: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ResellerDocument(tt.limits, tt.shared, "reseller_image", "shared_image")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadResellerFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yamlFile := write("limits.yaml", `
reseller_image:
  - {reseller_id: 1001, region_id: 1, image_ids: [a, b]}
  - {reseller_id: 2002, region_id: 1, image_ids: []}
shared_image:
  - {entity_type: project, entity_id: 7, region_id: 1, image_ids: null}
`)
	data, err := LoadResellerFile(yamlFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := data["imagegate"].(map[string]any)["reseller"].(map[string]any)
	limits := doc["limits"].(map[string]any)
	if !reflect.DeepEqual(limits["1001"], map[string]any{"1": []any{"a", "b"}}) || !reflect.DeepEqual(limits["2002"], map[string]any{"1": []any{}}) {
		t.Fatalf("limits = %#v", limits)
	}
	if got := doc["shared"].(map[string]any)["project"].(map[string]any)["7"]; !reflect.DeepEqual(got, map[string]any{"1": []any{}}) {
		t.Fatalf("shared = %#v", got)
	}
	jsonFile := write("limits.json", `{"reseller_image": [{"reseller_id": 1001, "region_id": 1, "image_ids": null}]}`)
	if _, err := LoadResellerFile(jsonFile); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]string{
		`resellers: []`:                      `unknown key "resellers"`,
		`[1, 2]`:                             "want an object with reseller_image and shared_image lists",
		`reseller_image: {a: 1}`:             "reseller_image: want a list of rows",
		`reseller_image: [{region_id: 1}]`:   "reseller_image[0].image_ids: missing",
		"reseller_image: [\n  - {a: 1}\n  b": "limits.yaml",
	} {
		if _, err := LoadResellerFile(write("limits.yaml", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
	if _, err := LoadResellerFile(filepath.Join(dir, "absent.yaml")); err == nil || !strings.Contains(err.Error(), "reseller.file") {
		t.Errorf("absent file: %v", err)
	}
}

// The reseller cache is bounded by MaxEntries like the image cache: callers of many
// clients and projects do not grow it without end.
func TestResellerCacheBounded(t *testing.T) {
	c, _ := gcoreClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"count":0,"results":[]}`))
	})
	for i := range 250 {
		if _, err := c.Reseller(context.Background(), "", fmt.Sprint(i), fmt.Sprint(1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	c.resellers.mu.Lock()
	n := len(c.resellers.entries)
	c.resellers.mu.Unlock()
	if n == 0 || n > 100 {
		t.Fatalf("reseller cache holds %d entries, bound 100", n)
	}
}
