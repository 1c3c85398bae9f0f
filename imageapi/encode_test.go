package imageapi

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{"", "plain", `quo"te`, `back\slash`, "new\nline\ttab\rcr", "\x00\x01\x1f\x7f",
		"héllo wörld ✓", "\u2028\u2029", "bad\xffutf8\xc3", "<html>&amp;", "emoji 🚀"}
	for _, s := range inputs {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q round-trips to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestImageDocumentIsValidJSON(t *testing.T) {
	size := int64(42)
	img := &Image{ID: DemoImageUbuntu, Name: `we"ird`, Status: StatusActive, Visibility: VisibilityPublic, Owner: "1000",
		Tags: []string{"a", "b\n"}, Size: &size, CreatedAt: demoEpoch, UpdatedAt: demoEpoch,
		Properties: map[string]string{"z": "1", "a": "2", "name": "shadow"}}
	var doc map[string]any
	if err := json.Unmarshal(imageJSON(img), &doc); err != nil {
		t.Fatalf("invalid JSON %s: %v", imageJSON(img), err)
	}
	for k, v := range map[string]any{"name": `we"ird`, "size": float64(42), "virtual_size": nil, "z": "1", "a": "2",
		"created_at": "2024-01-01T00:00:00Z", "self": "/v2/images/" + DemoImageUbuntu, "checksum": nil} {
		if doc[k] != v {
			t.Fatalf("%s = %#v, want %#v", k, doc[k], v)
		}
	}
	if len(doc) != 24 {
		t.Fatalf("%d keys: %v", len(doc), doc)
	}
}

func TestFirstNMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var imgs []*Image
	for i := range 500 {
		imgs = append(imgs, &Image{ID: fmt.Sprintf("%08d", rng.IntN(1e8)), Name: fmt.Sprintf("n%d", rng.IntN(50)),
			CreatedAt: demoEpoch.Add(time.Duration(rng.IntN(100)) * time.Second)})
		_ = i
	}
	for _, query := range []string{"", "sort=name:asc", "sort_key=name&sort_dir=asc&sort_key=created_at&sort_dir=desc"} {
		q, e := parseListQuery(query)
		if e != nil {
			t.Fatal(e)
		}
		full := slices.Clone(imgs)
		slices.SortFunc(full, q.compareImages)
		for _, n := range []int{0, 1, 25, 124, 200, 499, 500, 1000} {
			got, more := q.firstN(slices.Clone(imgs), n)
			want := full[:min(n, len(full))]
			if !slices.Equal(got, want) || more != (n < len(full)) {
				t.Fatalf("query %q n=%d: mismatch (more=%v)", query, n, more)
			}
		}
	}
}
