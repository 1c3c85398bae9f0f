package imageapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func memberIDs(t *testing.T, a *API, image string, id identity, code int) []string {
	t.Helper()
	w := expect(t, a, request{method: "GET", path: "/v2/images/" + image + "/members", id: id}, code)
	if code != http.StatusOK {
		return nil
	}
	body := decode[struct {
		Members []struct {
			MemberID string `json:"member_id"`
		} `json:"members"`
		Schema string `json:"schema"`
	}](t, w)
	if body.Schema != "/v2/schemas/members" {
		t.Fatalf("schema %q", body.Schema)
	}
	var ids []string
	for _, m := range body.Members {
		ids = append(ids, m.MemberID)
	}
	return ids
}

func TestMembersLifecycle(t *testing.T) {
	a := newDemo(t, Enforcing)
	img := createImage(t, a, member1000, map[string]any{"name": "to-share"})
	path := "/v2/images/" + img + "/members"

	// The owner shares with 2000: 200 (not 201), status pending.
	w := expect(t, a, request{method: "POST", path: path, id: member1000, body: map[string]string{"member": "2000"}}, http.StatusOK)
	m := decode[map[string]any](t, w)
	if m["status"] != "pending" || m["member_id"] != "2000" || m["image_id"] != img || m["schema"] != "/v2/schemas/member" {
		t.Fatalf("member %v", m)
	}
	expect(t, a, request{method: "POST", path: path, id: member1000, body: map[string]string{"member": "2000"}}, http.StatusConflict)

	// Pending: 2000 reads the image but does not list it by default.
	expect(t, a, request{method: "GET", path: "/v2/images/" + img, id: member2000}, http.StatusOK)
	if ids := listIDs(t, expect(t, a, request{method: "GET", path: "/v2/images?limit=1000", id: member2000}, 200)); slices.Contains(ids, img) {
		t.Fatal("pending share listed")
	}
	// The owner cannot accept on the member's behalf.
	expect(t, a, request{method: "PUT", path: path + "/2000", id: member1000, body: map[string]string{"status": "accepted"}}, http.StatusForbidden)
	// A stranger does not see the image at all.
	expect(t, a, request{method: "PUT", path: path + "/2000", id: member3000, body: map[string]string{"status": "accepted"}}, http.StatusNotFound)
	// A reader member cannot change its status (modify_member needs member).
	expect(t, a, request{method: "PUT", path: path + "/2000", id: reader2000, body: map[string]string{"status": "accepted"}}, http.StatusForbidden)
	// Invalid status.
	expect(t, a, request{method: "PUT", path: path + "/2000", id: member2000, body: map[string]string{"status": "maybe"}}, http.StatusBadRequest)
	expect(t, a, request{method: "PUT", path: path + "/2000", id: member2000, body: map[string]string{}}, http.StatusBadRequest)

	// The member accepts: now listed.
	w = expect(t, a, request{method: "PUT", path: path + "/2000", id: member2000, body: map[string]string{"status": "accepted"}}, http.StatusOK)
	if decode[map[string]any](t, w)["status"] != "accepted" {
		t.Fatal("not accepted")
	}
	if st, _ := a.Membership(img, "2000"); st != MemberAccepted {
		t.Fatalf("membership %q", st)
	}
	if ids := listIDs(t, expect(t, a, request{method: "GET", path: "/v2/images?limit=1000", id: member2000}, 200)); !slices.Contains(ids, img) {
		t.Fatal("accepted share not listed")
	}

	// Add 3000; the owner lists both, each member only itself.
	expect(t, a, request{method: "POST", path: path, id: member1000, body: map[string]string{"member": "3000"}}, http.StatusOK)
	if ids := memberIDs(t, a, img, member1000, 200); !slices.Equal(ids, []string{"2000", "3000"}) {
		t.Fatalf("owner sees %v", ids)
	}
	if ids := memberIDs(t, a, img, member2000, 200); !slices.Equal(ids, []string{"2000"}) {
		t.Fatalf("member sees %v", ids)
	}
	if ids := memberIDs(t, a, img, admin9999, 200); len(ids) != 2 {
		t.Fatalf("admin sees %v", ids)
	}
	expect(t, a, request{method: "GET", path: path + "/3000", id: member2000}, http.StatusNotFound)
	expect(t, a, request{method: "GET", path: path + "/2000", id: member2000}, http.StatusOK)
	expect(t, a, request{method: "GET", path: path + "/3000", id: member1000}, http.StatusOK)
	expect(t, a, request{method: "GET", path: path + "/4000", id: member1000}, http.StatusNotFound)

	// A member cannot add members nor delete memberships, even its own.
	expect(t, a, request{method: "POST", path: path, id: member2000, body: map[string]string{"member": "4000"}}, http.StatusForbidden)
	expect(t, a, request{method: "DELETE", path: path + "/2000", id: member2000}, http.StatusForbidden)
	expect(t, a, request{method: "DELETE", path: path + "/3000", id: member2000}, http.StatusNotFound)

	// The member rejects: still reachable by id, not listed.
	expect(t, a, request{method: "PUT", path: path + "/2000", id: member2000, body: map[string]string{"status": "rejected"}}, http.StatusOK)
	expect(t, a, request{method: "GET", path: "/v2/images/" + img, id: member2000}, http.StatusOK)
	if ids := listIDs(t, expect(t, a, request{method: "GET", path: "/v2/images?member_status=rejected&visibility=shared", id: member2000}, 200)); !slices.Contains(ids, img) {
		t.Fatal("rejected share not found with member_status=rejected")
	}

	// The owner removes the membership: the image disappears for 2000.
	expect(t, a, request{method: "DELETE", path: path + "/2000", id: member1000}, http.StatusNoContent)
	expect(t, a, request{method: "GET", path: "/v2/images/" + img, id: member2000}, http.StatusNotFound)
	expect(t, a, request{method: "DELETE", path: path + "/2000", id: member1000}, http.StatusNotFound)
	if _, ok := a.Membership(img, "2000"); ok {
		t.Fatal("membership still there")
	}
}

func TestMembersRules(t *testing.T) {
	tests := []struct {
		name   string
		mode   Mode
		method string
		image  string
		member string // path member id, "" for the collection
		id     identity
		body   any
		code   int
	}{
		{"add on private image", Enforcing, "POST", DemoImagePrivateA, "", member1000, map[string]string{"member": "2000"}, 403},
		{"add on public image", Enforcing, "POST", DemoImageUbuntu, "", member1000, map[string]string{"member": "2000"}, 403},
		{"add by non-owner of visible image", Enforcing, "POST", DemoImageUbuntu, "", member2000, map[string]string{"member": "2000"}, 403},
		{"add on invisible image", Enforcing, "POST", DemoImagePrivateB, "", member1000, map[string]string{"member": "1000"}, 404},
		{"add by reader owner", Enforcing, "POST", DemoImageSharedA, "", reader1000, map[string]string{"member": "4000"}, 403},
		{"add without member", Enforcing, "POST", DemoImageSharedA, "", member1000, map[string]string{}, 400},
		{"add empty member", Enforcing, "POST", DemoImageSharedA, "", member1000, map[string]string{"member": ""}, 400},
		{"add by admin", Enforcing, "POST", DemoImageSharedA, "", admin9999, map[string]string{"member": "4000"}, 200},
		{"list members of private image", Enforcing, "GET", DemoImagePrivateA, "", member1000, nil, 403},
		{"list members of public image", Enforcing, "GET", DemoImageUbuntu, "", member2000, nil, 403},
		{"list members of invisible image", Enforcing, "GET", DemoImageSharedC, "", member2000, nil, 404},
		{"get member of public image", Enforcing, "GET", DemoImageUbuntu, "2000", member2000, nil, 404},
		{"pending member accepts", Enforcing, "PUT", DemoImageSharedC, "1000", member1000, map[string]string{"status": "accepted"}, 200},
		{"member changes another's status", Enforcing, "PUT", DemoImageSharedA, "3000", member2000, map[string]string{"status": "accepted"}, 404},
		{"admin changes status", Enforcing, "PUT", DemoImageSharedA, "3000", admin9999, map[string]string{"status": "rejected"}, 200},
		{"naive owner accepts for the member", Naive, "PUT", DemoImageSharedA, "3000", member1000, map[string]string{"status": "accepted"}, 200},
		{"naive stranger deletes", Naive, "DELETE", DemoImageSharedA, "3000", anonymous, nil, 204},
		{"naive stranger adds", Naive, "POST", DemoImageSharedC, "", anonymous, map[string]string{"member": "2000"}, 200},
		{"naive still refuses non-shared", Naive, "POST", DemoImageUbuntu, "", anonymous, map[string]string{"member": "2000"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			path := "/v2/images/" + tt.image + "/members"
			if tt.member != "" {
				path += "/" + tt.member
			}
			expect(t, a, request{method: tt.method, path: path, id: tt.id, body: tt.body}, tt.code)
		})
	}
}

func TestNaiveListsAllMembers(t *testing.T) {
	a := newDemo(t, Naive)
	if ids := memberIDs(t, a, DemoImageSharedA, anonymous, 200); !slices.Equal(ids, []string{"2000", "3000"}) {
		t.Fatalf("naive sees %v", ids)
	}
}

func TestOnlySharedImagesHaveMembers(t *testing.T) {
	a := newDemo(t, Enforcing)
	w := expect(t, a, request{method: "POST", path: "/v2/images/" + DemoImagePrivateA + "/members", id: member1000,
		body: map[string]string{"member": "2000"}}, http.StatusForbidden)
	if msg := errorMessage(t, w); !strings.Contains(msg, "Only shared images have members") {
		t.Fatalf("message %q", msg)
	}
}
