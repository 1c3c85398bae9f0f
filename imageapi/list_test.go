package imageapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestListVisibility(t *testing.T) {
	all := func(ids ...string) []string { s := slices.Clone(ids); slices.Sort(s); return s }
	tests := []struct {
		name  string
		mode  Mode
		id    identity
		query string
		want  []string
	}{
		{"tenant 1000 default", Enforcing, member1000, "",
			all(DemoImageUbuntu, DemoImagePrivateA, DemoImageSharedA, DemoImageCommunityA, DemoImageProtectedA,
				DemoImageDeactivatedA, DemoImageQueuedA, DemoImageDebian)},
		{"tenant 2000 default", Enforcing, member2000, "",
			all(DemoImageDebian, DemoImagePrivateB, DemoImageSharedB, DemoImageCommunityB, DemoImageUbuntu,
				DemoImageDeactivatedA, DemoImageSharedA)},
		{"tenant 3000 default", Enforcing, reader1000Like("3000"), "",
			all(DemoImagePrivateC, DemoImageSharedC, DemoImageUbuntu, DemoImageDeactivatedA, DemoImageDebian, DemoImageSharedB)},
		{"pending shares", Enforcing, member1000, "?member_status=pending",
			all(DemoImageUbuntu, DemoImagePrivateA, DemoImageSharedA, DemoImageCommunityA, DemoImageProtectedA,
				DemoImageDeactivatedA, DemoImageQueuedA, DemoImageDebian, DemoImageSharedC)},
		{"shared with pending", Enforcing, member1000, "?visibility=shared&member_status=pending", all(DemoImageSharedA, DemoImageSharedC)},
		{"shared with rejected", Enforcing, member1000, "?visibility=shared&member_status=rejected", all(DemoImageSharedA, DemoImageSharedB)},
		{"shared with all", Enforcing, member1000, "?visibility=shared&member_status=all", all(DemoImageSharedA, DemoImageSharedB, DemoImageSharedC)},
		{"shared default accepted", Enforcing, member3000, "?visibility=shared", all(DemoImageSharedC, DemoImageSharedB)},
		{"community of everyone", Enforcing, member2000, "?visibility=community", all(DemoImageCommunityA, DemoImageCommunityB)},
		{"private only own", Enforcing, member2000, "?visibility=private", all(DemoImagePrivateB)},
		{"public", Enforcing, member3000, "?visibility=public", all(DemoImageUbuntu, DemoImageDeactivatedA, DemoImageDebian)},
		{"hidden", Enforcing, member3000, "?os_hidden=true", all(DemoImageHiddenA)},
		{"all visibilities", Enforcing, member3000, "?visibility=all",
			all(DemoImagePrivateC, DemoImageSharedC, DemoImageUbuntu, DemoImageDeactivatedA, DemoImageDebian,
				DemoImageSharedB, DemoImageCommunityA, DemoImageCommunityB)},
		{"admin default", Enforcing, admin9999, "",
			all(DemoImageUbuntu, DemoImagePrivateA, DemoImageSharedA, DemoImageProtectedA, DemoImageDeactivatedA,
				DemoImageQueuedA, DemoImageDebian, DemoImagePrivateB, DemoImageSharedB, DemoImagePrivateC, DemoImageSharedC)},
		{"admin private", Enforcing, admin9999, "?visibility=private",
			all(DemoImagePrivateA, DemoImageProtectedA, DemoImageQueuedA, DemoImagePrivateB, DemoImagePrivateC)},
		{"naive default is everything not hidden", Naive, anonymous, "",
			all(DemoImageUbuntu, DemoImagePrivateA, DemoImageSharedA, DemoImageCommunityA, DemoImageProtectedA,
				DemoImageDeactivatedA, DemoImageQueuedA, DemoImageDebian, DemoImagePrivateB, DemoImageSharedB,
				DemoImageCommunityB, DemoImagePrivateC, DemoImageSharedC)},
		{"naive ignores the caller", Naive, member1000, "?visibility=private",
			all(DemoImagePrivateA, DemoImageProtectedA, DemoImageQueuedA, DemoImagePrivateB, DemoImagePrivateC)},
		{"naive member_status as plain filter", Naive, member1000, "?member_status=rejected", all(DemoImageSharedB)},
		{"naive owner filter", Naive, member1000, "?owner=3000", all(DemoImagePrivateC, DemoImageSharedC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			sep := "?"
			if strings.Contains(tt.query, "?") {
				sep = "&"
			}
			w := expect(t, a, request{method: "GET", path: "/v2/images" + tt.query + sep + "limit=1000", id: tt.id}, http.StatusOK)
			got := listIDs(t, w)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func reader1000Like(project string) identity { return as(project, "reader") }

func TestListFilters(t *testing.T) {
	a := newDemo(t, Enforcing)
	tests := []struct {
		query string
		want  []string // in order
	}{
		{"name=debian-12", []string{DemoImageDebian}},
		{"name=in:debian-12,ubuntu-24.04", []string{DemoImageDebian, DemoImageUbuntu}},
		{"tag=ubuntu", []string{DemoImageUbuntu}},
		{"tag=ubuntu&tag=lts", []string{DemoImageUbuntu}},
		{"tag=ubuntu&tag=debian", []string{}},
		{"status=queued", []string{DemoImageQueuedA}},
		{"status=deactivated", []string{DemoImageDeactivatedA}},
		{"owner=2000", []string{DemoImageDebian}},
		{"protected=true", []string{DemoImageProtectedA}},
		{"os_distro=ubuntu", []string{DemoImageUbuntu}},
		{"size_min=200000", []string{DemoImageDebian, DemoImageUbuntu}},
		{"size_max=20000&visibility=public", []string{DemoImageDeactivatedA}},
		{"created_at=lt:2024-01-01T01:00:00Z", []string{DemoImageUbuntu}},
		{"created_at=2024-01-01T00:00:00Z", []string{DemoImageUbuntu}},
		{"sort=name:asc&visibility=public", []string{DemoImageDeactivatedA, DemoImageDebian, DemoImageUbuntu}},
		{"sort_key=name&sort_dir=desc&visibility=public", []string{DemoImageUbuntu, DemoImageDebian, DemoImageDeactivatedA}},
		{"sort_key=created_at&sort_dir=asc&visibility=public", []string{DemoImageUbuntu, DemoImageDeactivatedA, DemoImageDebian}},
		{"visibility=public", []string{DemoImageDebian, DemoImageDeactivatedA, DemoImageUbuntu}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := expect(t, a, request{method: "GET", path: "/v2/images?" + tt.query, id: member1000}, http.StatusOK)
			if got := listIDs(t, w); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestListBadParameters(t *testing.T) {
	a := newDemo(t, Enforcing)
	tests := []struct {
		query string
		code  int
	}{
		{"limit=-1", 400},
		{"limit=abc", 400},
		{"marker=00000000-0000-4000-8000-000000000000", 400},
		{"marker=" + DemoImagePrivateB, 403}, // Glance's small existence leak
		{"visibility=world", 400},
		{"member_status=maybe", 400},
		{"sort_key=owner", 400},
		{"sort_dir=up", 400},
		{"sort=name:up", 400},
		{"sort=name&sort_key=name", 400},
		{"os_hidden=maybe", 400},
		{"protected=maybe", 400},
		{"name=foo:bar", 400},
		{"created_at=yesterday", 400},
		{"size_min=big", 400},
		{"changes-since=2024-01-01T00:00:00Z", 400},
		{"a=%zz", 400},
		{"limit=5000", 200},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			expect(t, a, request{method: "GET", path: "/v2/images?" + tt.query, id: member1000}, tt.code)
		})
	}
}

func TestListPagination(t *testing.T) {
	for _, mode := range []Mode{Enforcing, Naive} {
		t.Run(mode.String(), func(t *testing.T) {
			a := New(Options{Mode: mode, Now: testClock()})
			const n = 60
			for i := range n {
				createImage(t, a, member1000, map[string]any{"name": fmt.Sprintf("img-%02d", i), "tag_filter": "yes"})
			}
			// Another tenant's private images must not leak into pages.
			for range 5 {
				createImage(t, a, member2000, map[string]any{"visibility": "private", "tag_filter": "yes"})
			}
			wantTotal := n
			if mode == Naive {
				wantTotal = n + 5
			}

			var seen []string
			next := "/v2/images?tag_filter=yes"
			pages := 0
			for next != "" {
				w := expect(t, a, request{method: "GET", path: next, id: member1000}, http.StatusOK)
				body := decode[struct {
					Images []struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"images"`
					First  string `json:"first"`
					Next   string `json:"next"`
					Schema string `json:"schema"`
				}](t, w)
				if body.Schema != "/v2/schemas/images" || body.First != "/v2/images?tag_filter=yes" {
					t.Fatalf("first %q schema %q", body.First, body.Schema)
				}
				for _, img := range body.Images {
					seen = append(seen, img.ID)
				}
				if body.Next != "" {
					u, err := url.Parse(body.Next)
					if err != nil || u.Path != "/v2/images" || u.Query().Get("tag_filter") != "yes" ||
						u.Query().Get("marker") != body.Images[len(body.Images)-1].ID {
						t.Fatalf("next %q", body.Next)
					}
					if len(body.Images) != DefaultListLimit {
						t.Fatalf("page of %d with a next link", len(body.Images))
					}
				}
				next = body.Next
				pages++
			}
			if len(seen) != wantTotal || pages != (wantTotal+DefaultListLimit-1)/DefaultListLimit {
				t.Fatalf("%d images in %d pages", len(seen), pages)
			}
			uniq := slices.Clone(seen)
			slices.Sort(uniq)
			if len(slices.Compact(uniq)) != wantTotal {
				t.Fatal("duplicates across pages")
			}
			// Newest first: the last image tenant 1000 created leads.
			var newest string
			for _, img := range a.Images() {
				if img.Owner == DemoTenantA {
					newest = img.ID
					break
				}
			}
			if mode == Naive {
				newest = a.Images()[0].ID
			}
			if seen[0] != newest {
				t.Fatalf("first %s, newest %s", seen[0], newest)
			}

			// Explicit limit and a next link that keeps it.
			w := expect(t, a, request{method: "GET", path: "/v2/images?limit=7&tag_filter=yes", id: member1000}, http.StatusOK)
			body := decode[map[string]any](t, w)
			if got := len(body["images"].([]any)); got != 7 {
				t.Fatalf("limit 7 gave %d", got)
			}
			if nx, _ := body["next"].(string); !strings.HasPrefix(nx, "/v2/images?limit=7&tag_filter=yes&marker=") {
				t.Fatalf("next %q", nx)
			}
			// The last page has no next link.
			w = expect(t, a, request{method: "GET", path: "/v2/images?limit=1000&tag_filter=yes", id: member1000}, http.StatusOK)
			if _, ok := decode[map[string]any](t, w)["next"]; ok {
				t.Fatal("next on the last page")
			}
		})
	}
}

func TestListImageShape(t *testing.T) {
	a := newDemo(t, Enforcing)
	w := expect(t, a, request{method: "GET", path: "/v2/images?name=ubuntu-24.04", id: member2000}, http.StatusOK)
	body := decode[struct {
		Images []map[string]any `json:"images"`
	}](t, w)
	if len(body.Images) != 1 {
		t.Fatalf("%d images", len(body.Images))
	}
	img := body.Images[0]
	for k, v := range map[string]any{
		"id": DemoImageUbuntu, "name": "ubuntu-24.04", "status": "active", "visibility": "public", "owner": "1000",
		"os_distro": "ubuntu", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
		"os_hash_algo": "sha512", "size": float64(256 << 10), "virtual_size": nil, "protected": false, "os_hidden": false,
		"disk_format": "qcow2", "container_format": "bare",
	} {
		if img[k] != v {
			t.Fatalf("%s = %#v, want %#v", k, img[k], v)
		}
	}
	if len(img["checksum"].(string)) != 32 || len(img["os_hash_value"].(string)) != 128 {
		t.Fatalf("digests %v %v", img["checksum"], img["os_hash_value"])
	}
}
