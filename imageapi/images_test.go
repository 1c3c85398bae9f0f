package imageapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestCreateImage(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		id        identity
		body      any
		code      int
		wantOwner any
		wantVis   string
	}{
		{"defaults", Enforcing, member1000, map[string]any{"name": "x"}, http.StatusCreated, "1000", "shared"},
		{"private with props", Enforcing, member1000, map[string]any{"name": "x", "visibility": "private", "os_distro": "arch", "disk_format": "raw", "container_format": "bare", "tags": []string{"a", "a", "b"}}, http.StatusCreated, "1000", "private"},
		{"community by member", Enforcing, member1000, map[string]any{"visibility": "community"}, http.StatusCreated, "1000", "community"},
		{"public needs admin", Enforcing, member1000, map[string]any{"visibility": "public"}, http.StatusForbidden, nil, ""},
		{"public by admin", Enforcing, admin9999, map[string]any{"visibility": "public"}, http.StatusCreated, "9999", "public"},
		{"reader cannot create", Enforcing, reader1000, map[string]any{"name": "x"}, http.StatusForbidden, nil, ""},
		{"owner of another tenant", Enforcing, member1000, map[string]any{"owner": "2000"}, http.StatusForbidden, nil, ""},
		{"own owner is fine", Enforcing, member1000, map[string]any{"owner": "1000"}, http.StatusCreated, "1000", "shared"},
		{"admin sets owner", Enforcing, admin9999, map[string]any{"owner": "2000"}, http.StatusCreated, "2000", "shared"},
		{"naive takes body owner", Naive, member1000, map[string]any{"owner": "2000", "visibility": "public"}, http.StatusCreated, "2000", "public"},
		{"naive takes project", Naive, identity{"X-Project-Id": "3000"}, map[string]any{}, http.StatusCreated, "3000", "shared"},
		{"read-only status", Enforcing, member1000, map[string]any{"status": "active"}, http.StatusForbidden, nil, ""},
		{"disallowed self", Enforcing, member1000, map[string]any{"self": "/x"}, http.StatusForbidden, nil, ""},
		{"reserved os_glance", Enforcing, member1000, map[string]any{"os_glance_x": "1"}, http.StatusForbidden, nil, ""},
		{"bad visibility", Enforcing, member1000, map[string]any{"visibility": "world"}, http.StatusBadRequest, nil, ""},
		{"bad disk format", Enforcing, member1000, map[string]any{"disk_format": "zip"}, http.StatusBadRequest, nil, ""},
		{"non-string property", Enforcing, member1000, map[string]any{"foo": 1}, http.StatusBadRequest, nil, ""},
		{"negative min_ram", Enforcing, member1000, map[string]any{"min_ram": -1}, http.StatusBadRequest, nil, ""},
		{"malformed json", Enforcing, member1000, "{", http.StatusBadRequest, nil, ""},
		{"array body", Enforcing, member1000, "[]", http.StatusBadRequest, nil, ""},
		{"empty body", Enforcing, member1000, "", http.StatusBadRequest, nil, ""},
		{"bad id", Enforcing, member1000, map[string]any{"id": "nope"}, http.StatusBadRequest, nil, ""},
		{"duplicate id", Enforcing, member1000, map[string]any{"id": DemoImageUbuntu}, http.StatusConflict, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			r := request{method: "POST", path: "/v2/images", id: tt.id, body: tt.body}
			if s, ok := tt.body.(string); ok {
				r.body = s
				r.headers = map[string]string{"Content-Type": "application/json"}
			}
			w := expect(t, a, r, tt.code)
			if tt.code != http.StatusCreated {
				return
			}
			img := decode[map[string]any](t, w)
			if img["owner"] != tt.wantOwner || img["visibility"] != tt.wantVis || img["status"] != "queued" {
				t.Fatalf("image %v", img)
			}
			id := img["id"].(string)
			if !uuidPattern.MatchString(id) || id[14] != '4' {
				t.Fatalf("id %q is not a v4 uuid", id)
			}
			for k, want := range map[string]any{"self": "/v2/images/" + id, "file": "/v2/images/" + id + "/file", "schema": "/v2/schemas/image", "size": nil, "checksum": nil, "protected": false} {
				if img[k] != want {
					t.Fatalf("%s = %v, want %v", k, img[k], want)
				}
			}
			if loc := w.Header().Get("Location"); loc != "http://example.com/v2/images/"+id {
				t.Fatalf("Location %q", loc)
			}
			if w.Header().Get("OpenStack-image-import-methods") == "" {
				t.Fatal("no import methods header")
			}
			stored, ok := a.Image(id)
			if !ok || stored.CreatedAt.IsZero() {
				t.Fatalf("stored %+v", stored)
			}
			if tt.name == "private with props" {
				if img["os_distro"] != "arch" || len(img["tags"].([]any)) != 2 {
					t.Fatalf("props/tags %v", img)
				}
			}
		})
	}
}

func TestCreateWithChosenID(t *testing.T) {
	a := newDemo(t, Enforcing)
	const id = "6e1a47c2-1111-4abc-8def-0123456789ab"
	if got := createImage(t, a, member1000, map[string]any{"id": id}); got != id {
		t.Fatalf("id %q", got)
	}
}

// TestGetImageVisibility is the visibility table of GET /v2/images/{id} in
// Enforcing mode: invisible images answer 404.
func TestGetImageVisibility(t *testing.T) {
	a := newDemo(t, Enforcing)
	tests := []struct {
		who   string
		id    identity
		image string
		code  int
	}{
		{"owner private", member1000, DemoImagePrivateA, http.StatusOK},
		{"reader owner private", reader1000, DemoImagePrivateA, http.StatusOK},
		{"other private", member2000, DemoImagePrivateA, http.StatusNotFound},
		{"public", member3000, DemoImageUbuntu, http.StatusOK},
		{"community", member3000, DemoImageCommunityA, http.StatusOK},
		{"accepted member", member2000, DemoImageSharedA, http.StatusOK},
		{"pending member", member3000, DemoImageSharedA, http.StatusOK},
		{"rejected member", member1000, DemoImageSharedB, http.StatusOK},
		{"non-member shared", member2000, DemoImageSharedC, http.StatusNotFound},
		{"admin any", admin9999, DemoImagePrivateC, http.StatusOK},
		{"no reader role", as("1000", "member"), DemoImagePrivateA, http.StatusNotFound},
		{"unknown", member1000, "00000000-0000-4000-8000-000000000000", http.StatusNotFound},
		{"deactivated public", member2000, DemoImageDeactivatedA, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			w := expect(t, a, request{method: "GET", path: "/v2/images/" + tt.image, id: tt.id}, tt.code)
			if tt.code == http.StatusOK && decode[map[string]any](t, w)["id"] != tt.image {
				t.Fatalf("body %s", w.Body.String())
			}
		})
	}
}

func TestNaiveGetsAndChangesAnything(t *testing.T) {
	a := newDemo(t, Naive)
	stranger := identity{"X-Project-Id": "4242"}
	expect(t, a, request{method: "GET", path: "/v2/images/" + DemoImagePrivateC, id: stranger}, http.StatusOK)
	expect(t, a, request{method: "PATCH", path: "/v2/images/" + DemoImagePrivateC, id: stranger, headers: patchHeaders(),
		body: `[{"op":"replace","path":"/visibility","value":"public"}]`}, http.StatusOK)
	expect(t, a, request{method: "DELETE", path: "/v2/images/" + DemoImagePrivateB, id: stranger}, http.StatusNoContent)
	expect(t, a, request{method: "PUT", path: "/v2/images/" + DemoImageSharedA + "/members/2000", id: stranger,
		body: map[string]string{"status": "rejected"}}, http.StatusOK)
	if st, _ := a.Membership(DemoImageSharedA, "2000"); st != MemberRejected {
		t.Fatalf("membership %q", st)
	}
}

func TestPatchImage(t *testing.T) {
	tests := []struct {
		name        string
		mode        Mode
		id          identity
		image       string
		contentType string
		body        string
		code        int
		check       func(t *testing.T, img Image)
	}{
		{name: "replace name", id: member1000, image: DemoImagePrivateA,
			body: `[{"op":"replace","path":"/name","value":"renamed"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Name, "renamed") }},
		{name: "v2.0 media type", id: member1000, image: DemoImagePrivateA, contentType: PatchMediaType20,
			body: `[{"replace":"/name","value":"old-style"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Name, "old-style") }},
		{name: "v2.0 add existing conflicts", id: member1000, image: DemoImageUbuntu, contentType: PatchMediaType20,
			body: `[{"add":"/os_distro","value":"x"}]`, code: 409},
		{name: "add property and escaped pointer", id: member1000, image: DemoImagePrivateA,
			body: `[{"op":"add","path":"/a~1b~0c","value":"v"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Properties["a/b~c"], "v") }},
		{name: "add replaces in v2.1", id: member1000, image: DemoImageUbuntu,
			body: `[{"op":"add","path":"/os_distro","value":"kubuntu"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Properties["os_distro"], "kubuntu") }},
		{name: "remove property", id: member1000, image: DemoImageUbuntu,
			body: `[{"op":"remove","path":"/os_version"}]`, code: 200,
			check: func(t *testing.T, img Image) {
				if _, ok := img.Properties["os_version"]; ok {
					t.Fatal("still there")
				}
			}},
		{name: "remove missing property", id: member1000, image: DemoImageUbuntu, body: `[{"op":"remove","path":"/nope"}]`, code: 409},
		{name: "replace missing property", id: member1000, image: DemoImageUbuntu, body: `[{"op":"replace","path":"/nope","value":"x"}]`, code: 409},
		{name: "remove core property", id: member1000, image: DemoImageUbuntu, body: `[{"op":"remove","path":"/name"}]`, code: 403},
		{name: "replace tags", id: member1000, image: DemoImageUbuntu, body: `[{"op":"replace","path":"/tags","value":["x","y","x"]}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, strings.Join(img.Tags, ","), "x,y") }},
		{name: "several ops, all or nothing", id: member1000, image: DemoImagePrivateA,
			body: `[{"op":"replace","path":"/name","value":"n"},{"op":"replace","path":"/status","value":"active"}]`, code: 403},
		{name: "read-only status", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/status","value":"active"}]`, code: 403},
		{name: "read-only checksum", id: admin9999, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/checksum","value":"x"}]`, code: 403},
		{name: "reserved", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"/os_glance_foo","value":"x"}]`, code: 403},
		{name: "owner needs admin", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/owner","value":"2000"}]`, code: 403},
		{name: "admin changes owner", id: admin9999, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/owner","value":"2000"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Owner, "2000") }},
		{name: "publicize needs admin", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/visibility","value":"public"}]`, code: 403},
		{name: "admin publicizes", id: admin9999, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/visibility","value":"public"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Visibility, "public") }},
		{name: "owner communitizes", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/visibility","value":"community"}]`, code: 200},
		{name: "reader owner cannot modify", id: reader1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/name","value":"x"}]`, code: 403},
		{name: "member of shared image cannot modify", id: member2000, image: DemoImageSharedA, body: `[{"op":"replace","path":"/name","value":"x"}]`, code: 403},
		{name: "public image of another tenant", id: member2000, image: DemoImageUbuntu, body: `[{"op":"replace","path":"/name","value":"x"}]`, code: 403},
		{name: "invisible image", id: member2000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/name","value":"x"}]`, code: 404},
		{name: "wrong media type", id: member1000, image: DemoImagePrivateA, contentType: "application/json", body: `[]`, code: 415},
		{name: "bad op", id: member1000, image: DemoImagePrivateA, body: `[{"op":"move","path":"/name","value":"x"}]`, code: 400},
		{name: "nested pointer", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"/a/b","value":"x"}]`, code: 400},
		{name: "pointer without slash", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"name","value":"x"}]`, code: 400},
		{name: "bad escape", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"/a~2","value":"x"}]`, code: 400},
		{name: "missing value", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"/a"}]`, code: 400},
		{name: "object body", id: member1000, image: DemoImagePrivateA, body: `{}`, code: 400},
		{name: "wrong value type", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/protected","value":"yes"}]`, code: 400},
		{name: "disk format of active image", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/disk_format","value":"raw"}]`, code: 403},
		{name: "disk format of queued image", id: member1000, image: DemoImageQueuedA, body: `[{"op":"replace","path":"/disk_format","value":"raw"}]`, code: 200},
		{name: "locations", id: member1000, image: DemoImagePrivateA, body: `[{"op":"add","path":"/locations/-","value":{"url":"file:///x","metadata":{}}}]`, code: 403},
		{name: "protect", id: member1000, image: DemoImagePrivateA, body: `[{"op":"replace","path":"/protected","value":true}]`, code: 200,
			check: func(t *testing.T, img Image) {
				if !img.Protected {
					t.Fatal("not protected")
				}
			}},
		{name: "naive reader changes owner", mode: Naive, id: reader1000, image: DemoImagePrivateC,
			body: `[{"op":"replace","path":"/owner","value":"1000"}]`, code: 200,
			check: func(t *testing.T, img Image) { want(t, img.Owner, "1000") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			before, _ := a.Image(tt.image)
			ct := tt.contentType
			if ct == "" {
				ct = patchType
			}
			w := expect(t, a, request{method: "PATCH", path: "/v2/images/" + tt.image, id: tt.id,
				headers: map[string]string{"Content-Type": ct}, body: tt.body}, tt.code)
			after, _ := a.Image(tt.image)
			if tt.code != http.StatusOK {
				if after.Name != before.Name || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Fatal("a refused PATCH changed the image")
				}
				if tt.code == http.StatusUnsupportedMediaType && w.Header().Get("Accept-Patch") == "" {
					t.Fatal("415 without Accept-Patch")
				}
				return
			}
			if !after.UpdatedAt.After(before.UpdatedAt) {
				t.Fatal("updated_at not advanced")
			}
			if body := decode[map[string]any](t, w); body["id"] != tt.image {
				t.Fatalf("body %v", body)
			}
			if tt.check != nil {
				tt.check(t, after)
			}
		})
	}
}

func want(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestDeleteImage(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		id    identity
		image string
		code  int
	}{
		{"owner", Enforcing, member1000, DemoImagePrivateA, http.StatusNoContent},
		{"admin", Enforcing, admin9999, DemoImagePrivateB, http.StatusNoContent},
		{"protected", Enforcing, member1000, DemoImageProtectedA, http.StatusForbidden},
		{"protected for admin too", Enforcing, admin9999, DemoImageProtectedA, http.StatusForbidden},
		{"reader owner", Enforcing, reader1000, DemoImagePrivateA, http.StatusForbidden},
		{"other tenant public", Enforcing, member2000, DemoImageUbuntu, http.StatusForbidden},
		{"member of shared", Enforcing, member2000, DemoImageSharedA, http.StatusForbidden},
		{"invisible", Enforcing, member2000, DemoImagePrivateA, http.StatusNotFound},
		{"naive anyone", Naive, member2000, DemoImagePrivateA, http.StatusNoContent},
		{"naive protected", Naive, member2000, DemoImageProtectedA, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			expect(t, a, request{method: "DELETE", path: "/v2/images/" + tt.image, id: tt.id}, tt.code)
			_, exists := a.Image(tt.image)
			if exists == (tt.code == http.StatusNoContent) {
				t.Fatalf("exists=%v after %d", exists, tt.code)
			}
		})
	}
	t.Run("members go with the image", func(t *testing.T) {
		a := newDemo(t, Enforcing)
		expect(t, a, request{method: "DELETE", path: "/v2/images/" + DemoImageSharedA, id: member1000}, http.StatusNoContent)
		if _, ok := a.Membership(DemoImageSharedA, "2000"); ok {
			t.Fatal("membership survived")
		}
		expect(t, a, request{method: "GET", path: "/v2/images/" + DemoImageSharedA, id: member1000}, http.StatusNotFound)
	})
}

func TestDeactivateReactivate(t *testing.T) {
	tests := []struct {
		name   string
		id     identity
		image  string
		action string
		code   int
		status string
	}{
		{"owner deactivates", member1000, DemoImagePrivateA, "deactivate", 204, StatusDeactivated},
		{"deactivate twice is a no-op", member1000, DemoImageDeactivatedA, "deactivate", 204, StatusDeactivated},
		{"owner reactivates", member1000, DemoImageDeactivatedA, "reactivate", 204, StatusActive},
		{"reactivate active is a no-op", member1000, DemoImagePrivateA, "reactivate", 204, StatusActive},
		{"queued cannot deactivate", member1000, DemoImageQueuedA, "deactivate", 403, StatusQueued},
		{"other tenant", member2000, DemoImageUbuntu, "deactivate", 403, StatusActive},
		{"invisible", member2000, DemoImagePrivateA, "deactivate", 404, StatusActive},
		{"admin", admin9999, DemoImagePrivateB, "deactivate", 204, StatusDeactivated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, Enforcing)
			expect(t, a, request{method: "POST", path: "/v2/images/" + tt.image + "/actions/" + tt.action, id: tt.id}, tt.code)
			img, _ := a.Image(tt.image)
			want(t, img.Status, tt.status)
		})
	}
}

func TestSeedValidation(t *testing.T) {
	tests := []struct {
		name string
		img  SeedImage
		ok   bool
	}{
		{"minimal", SeedImage{}, true},
		{"bad id", SeedImage{Image: Image{ID: "x"}}, false},
		{"duplicate", SeedImage{Image: Image{ID: DemoImageUbuntu}}, false},
		{"bad visibility", SeedImage{Image: Image{Visibility: "world"}}, false},
		{"members on private", SeedImage{Image: Image{Visibility: "private"}, Members: []SeedMember{{Tenant: "1"}}}, false},
		{"bad member status", SeedImage{Members: []SeedMember{{Tenant: "1", Status: "maybe"}}}, false},
		{"core property as custom", SeedImage{Image: Image{Properties: map[string]string{"owner": "x"}}}, false},
		{"reserved property", SeedImage{Image: Image{Properties: map[string]string{"os_glance_x": "x"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, Enforcing)
			n := len(a.Images())
			err := a.SeedImages(tt.img)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
			if got := len(a.Images()); tt.ok != (got == n+1) {
				t.Fatalf("%d images after seed, had %d", got, n)
			}
		})
	}
	t.Run("data sets digests", func(t *testing.T) {
		a := New(Options{})
		if err := a.SeedImages(SeedImage{Image: Image{ID: DemoImageUbuntu}, Data: []byte("abc"), Members: []SeedMember{{Tenant: "7"}}}); err != nil {
			t.Fatal(err)
		}
		img, _ := a.Image(DemoImageUbuntu)
		if img.Status != StatusActive || *img.Size != 3 || img.Checksum != "900150983cd24fb0d6963f7d28e17f72" || img.OSHashAlgo != "sha512" {
			t.Fatalf("%+v", img)
		}
		if st, ok := a.Membership(DemoImageUbuntu, "7"); !ok || st != MemberPending {
			t.Fatalf("membership %q %v", st, ok)
		}
	})
}

func TestDemoFixture(t *testing.T) {
	a := newDemo(t, Enforcing)
	imgs := a.Images()
	if len(imgs) != 14 {
		t.Fatalf("%d demo images", len(imgs))
	}
	seen := map[string]bool{}
	for _, img := range imgs {
		seen[img.Visibility] = true
		if img.CreatedAt.Equal(imgs[0].CreatedAt) && img.ID != imgs[0].ID {
			t.Fatalf("created_at not distinct: %s", img.ID)
		}
	}
	for _, v := range []string{"public", "private", "shared", "community"} {
		if !seen[v] {
			t.Fatalf("no %s image", v)
		}
	}
	statuses := map[string]string{}
	for _, pair := range [][2]string{{DemoImageSharedA, "2000"}, {DemoImageSharedA, "3000"}, {DemoImageSharedB, "1000"}} {
		st, _ := a.Membership(pair[0], pair[1])
		statuses[st] = pair[1]
	}
	if len(statuses) != 3 {
		t.Fatalf("member statuses %v", statuses)
	}
}
