package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/tests/glance/glancetest"
	"github.com/imagegate/imagegate/tests/testenv"
)

// TestGlance runs the tenants' scenario through imagegate in front of one real Glance,
// once per upstream mode, and then checks that the callers saw the same in both modes.
//
// delegated: Glance gets the caller's project and mapped roles and enforces too.
// service:   Glance gets admin roles for every call and returns everything; imagegate
//
//	alone stands between the tenants.
//
// The modes run one after the other against the same Glance, each with fresh tenants,
// and each removes its images (straight from Glance) when it ends.
func TestGlance(t *testing.T) {
	g := glancetest.Start(t)
	direct := newGlanceDirect(g)

	modes := []string{config.ModeDelegated, config.ModeService}
	seen := map[string]*transcript{}
	for _, mode := range modes {
		tr := &transcript{}
		seen[mode] = tr
		t.Run(mode, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{UpstreamURL: g.URL, Mode: mode})
			t.Run("scenario", func(t *testing.T) { runScenario(t, env, direct, tr) })
			t.Run("pagination", func(t *testing.T) { runPagination(t, env, direct, tr) })
		})
	}

	t.Run("same in both modes", func(t *testing.T) {
		a, b := seen[modes[0]].observations(), seen[modes[1]].observations()
		for _, o := range a {
			other, ok := b.get(o.key)
			switch {
			case !ok:
				t.Errorf("%s observed %q: %s; %s did not get that far", modes[0], o.key, o.value, modes[1])
			case other != o.value:
				t.Errorf("%q differs:\n  %-9s %s\n  %-9s %s", o.key, modes[0], o.value, modes[1], other)
			}
		}
		for _, o := range b {
			if _, ok := a.get(o.key); !ok {
				t.Errorf("%s observed %q: %s; %s did not get that far", modes[1], o.key, o.value, modes[0])
			}
		}
		t.Logf("%d observations of %s compared with %d of %s", len(a), modes[0], len(b), modes[1])
	})
}

// scenario is one mode's run: the tenants and the images they made.
type scenario struct {
	env    *testenv.Env
	direct *glanceDirect
	tr     *transcript

	// A, B and C are ordinary tenants (role member → Glance member,reader); Adm is a
	// cloud admin of its own project.
	A, B, C, Adm *caller

	// The images of step 1.
	private, shared, public, community string
	// data is what step 2 uploads to the shared image.
	data []byte
	// created are removed straight from Glance at the end, whatever happened.
	created []string
	// spoofRequestID is the X-Request-Id of step 11's refusal.
	spoofRequestID string
}

func runScenario(t *testing.T, env *testenv.Env, direct *glanceDirect, tr *transcript) {
	s := &scenario{env: env, direct: direct, tr: tr}
	s.A = newCaller(t, env, "A", newProject(), "member")
	s.B = newCaller(t, env, "B", newProject(), "member")
	s.C = newCaller(t, env, "C", newProject(), "member")
	s.Adm = newCaller(t, env, "Adm", newProject(), "admin")
	t.Cleanup(func() { direct.deleteImages(t, s.created) })

	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1 create in every visibility", s.stepCreate},
		{"2 upload and download", s.stepData},
		{"3 share and answer", s.stepShare},
		{"4 membership changes refused", s.stepMembershipRefusals},
		{"5 private image hidden", s.stepPrivateHidden},
		{"6 visibility filters", s.stepVisibilityFilters},
		{"7 tags", s.stepTags},
		{"8 patch", s.stepPatch},
		{"11 spoofed identity headers", s.stepSpoof},
		{"12 decision event", s.stepEvent},
		{"10 delete", s.stepDelete},
	}
	for _, st := range steps {
		tr.add("== step %s", st.name)
		t.Run(st.name, st.run)
	}
}

// need stops a step whose prerequisites an earlier step failed to make.
func (s *scenario) need(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if id == "" {
			t.Fatal("an earlier step failed to create an image this step needs")
		}
	}
}

// create makes an image as c; vis "" leaves the visibility to Glance's default.
func (s *scenario) create(t *testing.T, c *caller, name string, vis images.ImageVisibility) (*images.Image, outcome) {
	t.Helper()
	opts := images.CreateOpts{Name: name, DiskFormat: "raw", ContainerFormat: "bare"}
	if vis != "" {
		opts.Visibility = &vis
	}
	img, err := images.Create(t.Context(), c.sc, opts).Extract()
	if err == nil {
		s.created = append(s.created, img.ID)
	}
	return img, outcomeOf(err, http.StatusCreated)
}

// checkImage asserts the owner and visibility of a created image.
func (s *scenario) checkImage(t *testing.T, label string, img *images.Image, owner *caller, vis images.ImageVisibility) {
	t.Helper()
	if img == nil {
		return
	}
	s.tr.add("%s: owner=%s visibility=%s", label, ownerName(s, img.Owner), img.Visibility)
	if img.Owner != owner.project || img.Visibility != vis {
		t.Errorf("%s: owner %q visibility %q, want owner %q (%s) visibility %q",
			label, img.Owner, img.Visibility, owner.project, owner.name, vis)
	}
}

// ownerName names a project id by its caller, for mode-independent transcripts.
func ownerName(s *scenario, project string) string {
	for _, c := range []*caller{s.A, s.B, s.C, s.Adm} {
		if c.project == project {
			return c.name
		}
	}
	return "other(" + project + ")"
}

// 1. A creates a private, a shared (Glance's default) and a community image; A may not
// create a public one, so the admin does.
func (s *scenario) stepCreate(t *testing.T) {
	img, o := s.create(t, s.A, "e2e-private", images.ImageVisibilityPrivate)
	checkStatus(t, s.tr, "A creates a private image", o, http.StatusCreated)
	s.checkImage(t, "A's private image", img, s.A, images.ImageVisibilityPrivate)
	if img != nil {
		s.private = img.ID
	}

	img, o = s.create(t, s.A, "e2e-shared", "")
	checkStatus(t, s.tr, "A creates an image without visibility", o, http.StatusCreated)
	s.checkImage(t, "A's default-visibility image", img, s.A, images.ImageVisibilityShared)
	if img != nil {
		s.shared = img.ID
	}

	img, o = s.create(t, s.A, "e2e-public-by-A", images.ImageVisibilityPublic)
	checkRefusal(t, s.tr, "A creates a public image", o, http.StatusForbidden)
	if img != nil {
		t.Errorf("A created public image %s (owner %s, visibility %s)", img.ID, img.Owner, img.Visibility)
	}
	if id := o.header.Get("X-Request-Id"); id != "" && o.status == http.StatusForbidden {
		ev := s.env.WaitEvent(t, id)
		if ev.Result.Allow || ev.Result.Status != http.StatusForbidden || ev.Input.Operation != "images.create" {
			t.Errorf("decision event of A's public create: allow=%v status=%d operation=%q, want false 403 images.create",
				ev.Result.Allow, ev.Result.Status, ev.Input.Operation)
		}
	}

	img, o = s.create(t, s.Adm, "e2e-public", images.ImageVisibilityPublic)
	checkStatus(t, s.tr, "admin creates a public image", o, http.StatusCreated)
	s.checkImage(t, "admin's public image", img, s.Adm, images.ImageVisibilityPublic)
	if img != nil {
		s.public = img.ID
	}

	img, o = s.create(t, s.A, "e2e-community", images.ImageVisibilityCommunity)
	checkStatus(t, s.tr, "A creates a community image", o, http.StatusCreated)
	s.checkImage(t, "A's community image", img, s.A, images.ImageVisibilityCommunity)
	if img != nil {
		s.community = img.ID
	}
}

// 2. A uploads data to its shared image and reads it back, whole and a range.
func (s *scenario) stepData(t *testing.T) {
	s.need(t, s.shared)
	s.data = make([]byte, 300<<10)
	_, _ = rand.Read(s.data)

	err := imagedata.Upload(t.Context(), s.A.sc, s.shared, bytes.NewReader(s.data)).ExtractErr()
	checkStatus(t, s.tr, "A uploads 300 KiB", outcomeOf(err, http.StatusNoContent), http.StatusNoContent)

	img, err := images.Get(t.Context(), s.A.sc, s.shared).Extract()
	checkStatus(t, s.tr, "A gets the uploaded image", outcomeOf(err, http.StatusOK), http.StatusOK)
	if err == nil {
		s.tr.add("uploaded image: status=%s size-matches=%v", img.Status, img.SizeBytes == int64(len(s.data)))
		if img.Status != images.ImageStatusActive || img.SizeBytes != int64(len(s.data)) {
			t.Errorf("after upload: status %q size %d, want active %d", img.Status, img.SizeBytes, len(s.data))
		}
	}

	got, o := download(t, s.A, s.shared)
	checkStatus(t, s.tr, "A downloads its image", o, http.StatusOK)
	s.checkBytes(t, "A's download", got, s.data)

	// gophercloud has no range download of its own, but its client sends any header.
	resp, err := s.A.sc.Get(t.Context(), s.A.sc.ServiceURL("images", s.shared, "file"), nil, &gophercloud.RequestOpts{
		MoreHeaders:      map[string]string{"Range": "bytes=1000-1999"},
		OkCodes:          []int{http.StatusPartialContent},
		KeepResponseBody: true,
	})
	checkStatus(t, s.tr, "A downloads bytes 1000-1999", outcomeOf(err, http.StatusPartialContent), http.StatusPartialContent)
	if err == nil {
		part, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			t.Fatalf("range download: %v", rerr)
		}
		s.checkBytes(t, "A's range download", part, s.data[1000:2000])
	}
}

// download reads an image's data through gophercloud.
func download(t *testing.T, c *caller, id string) ([]byte, outcome) {
	t.Helper()
	rc, err := imagedata.Download(t.Context(), c.sc, id).Extract()
	if err != nil {
		return nil, outcomeOf(err, http.StatusOK)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s downloads %s: %v", c.name, id, err)
	}
	return b, outcome{status: http.StatusOK}
}

func (s *scenario) checkBytes(t *testing.T, label string, got, want []byte) {
	t.Helper()
	equal := bytes.Equal(got, want)
	s.tr.add("%s: bytes equal=%v", label, equal)
	if !equal {
		t.Errorf("%s: got %d bytes, want the %d bytes uploaded", label, len(got), len(want))
	}
}

// 3. A shares its image with B and C. B accepts, C rejects; pending and rejected
// memberships reach the image by id and by member_status filters, not in the default list.
func (s *scenario) stepShare(t *testing.T) {
	s.need(t, s.shared)
	ctx := t.Context()
	for _, c := range []*caller{s.B, s.C} {
		m, err := members.Create(ctx, s.A.sc, s.shared, c.project).Extract()
		checkStatus(t, s.tr, "A adds member "+c.name, outcomeOf(err, http.StatusOK), http.StatusOK)
		if err == nil {
			s.tr.add("new member %s: status=%s", c.name, m.Status)
			if m.Status != "pending" || m.MemberID != c.project {
				t.Errorf("new member %s: %+v, want pending %s", c.name, m, c.project)
			}
		}
	}

	_, err := images.Get(ctx, s.B.sc, s.shared).Extract()
	checkStatus(t, s.tr, "B (pending) gets the shared image", outcomeOf(err, http.StatusOK), http.StatusOK)
	got, o := download(t, s.B, s.shared)
	checkStatus(t, s.tr, "B (pending) downloads the shared image", o, http.StatusOK)
	if o.status == http.StatusOK {
		s.checkBytes(t, "B's download", got, s.data)
	}
	checkListed(t, s.tr, "B (pending) default list", s.B, images.ListOpts{}, s.shared, false)
	checkListed(t, s.tr, "B (pending) member_status=pending", s.B,
		images.ListOpts{MemberStatus: images.ImageMemberStatusPending}, s.shared, true)
	checkListed(t, s.tr, "B (pending) member_status=all", s.B,
		images.ListOpts{MemberStatus: images.ImageMemberStatusAll}, s.shared, true)

	// 4. (first half) The owner cannot accept on the member's behalf.
	_, err = members.Update(ctx, s.A.sc, s.shared, s.B.project, members.UpdateOpts{Status: "accepted"}).Extract()
	checkRefusal(t, s.tr, "A accepts on B's behalf", outcomeOf(err, http.StatusOK), http.StatusForbidden)
	if m, err := members.Get(ctx, s.B.sc, s.shared, s.B.project).Extract(); err != nil || m.Status != "pending" {
		t.Errorf("B's membership after A's attempt: %+v %v, want still pending", m, err)
	}

	m, err := members.Update(ctx, s.B.sc, s.shared, s.B.project, members.UpdateOpts{Status: "accepted"}).Extract()
	checkStatus(t, s.tr, "B accepts", outcomeOf(err, http.StatusOK), http.StatusOK)
	if err == nil && m.Status != "accepted" {
		t.Errorf("B accepts: status %q, want accepted", m.Status)
	}
	checkListed(t, s.tr, "B (accepted) default list", s.B, images.ListOpts{}, s.shared, true)
	checkListed(t, s.tr, "B (accepted) member_status=pending", s.B,
		images.ListOpts{MemberStatus: images.ImageMemberStatusPending}, s.shared, false)

	m, err = members.Update(ctx, s.C.sc, s.shared, s.C.project, members.UpdateOpts{Status: "rejected"}).Extract()
	checkStatus(t, s.tr, "C rejects", outcomeOf(err, http.StatusOK), http.StatusOK)
	if err == nil && m.Status != "rejected" {
		t.Errorf("C rejects: status %q, want rejected", m.Status)
	}
	checkListed(t, s.tr, "C (rejected) default list", s.C, images.ListOpts{}, s.shared, false)
	checkListed(t, s.tr, "C (rejected) member_status=rejected", s.C,
		images.ListOpts{MemberStatus: images.ImageMemberStatusRejected}, s.shared, true)
	_, err = images.Get(ctx, s.C.sc, s.shared).Extract()
	checkStatus(t, s.tr, "C (rejected) gets the shared image", outcomeOf(err, http.StatusOK), http.StatusOK)

	// The owner lists every member; a member only itself.
	s.checkMembers(t, "A lists the members", s.A, []string{s.B.project, s.C.project})
	s.checkMembers(t, "B lists the members", s.B, []string{s.B.project})
	_, err = members.Get(ctx, s.B.sc, s.shared, s.C.project).Extract()
	checkRefusal(t, s.tr, "B gets C's membership", outcomeOf(err, http.StatusOK), http.StatusNotFound)
}

// checkMembers asserts the member ids c sees on the shared image.
func (s *scenario) checkMembers(t *testing.T, label string, c *caller, want []string) {
	t.Helper()
	page, err := members.List(c.sc, s.shared).AllPages(t.Context())
	var ms []members.Member
	if err == nil {
		ms, err = members.ExtractMembers(page)
	}
	checkStatus(t, s.tr, label, outcomeOf(err, http.StatusOK), http.StatusOK)
	var got []string
	for _, m := range ms {
		got = append(got, m.MemberID)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	s.tr.add("%s (count): %d members", label, len(got))
	if err == nil && !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", label, got, want)
	}
}

// 4. Membership changes only the right tenant may make.
func (s *scenario) stepMembershipRefusals(t *testing.T) {
	s.need(t, s.shared)
	ctx := t.Context()
	err := members.Delete(ctx, s.B.sc, s.shared, s.B.project).ExtractErr()
	checkRefusal(t, s.tr, "B deletes its own membership", outcomeOf(err, http.StatusNoContent), http.StatusForbidden)

	err = members.Delete(ctx, s.A.sc, s.shared, s.C.project).ExtractErr()
	checkStatus(t, s.tr, "A deletes C's membership", outcomeOf(err, http.StatusNoContent), http.StatusNoContent)

	_, err = images.Get(ctx, s.C.sc, s.shared).Extract()
	checkRefusal(t, s.tr, "C (no longer a member) gets the image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	_, o := download(t, s.C, s.shared)
	checkRefusal(t, s.tr, "C (no longer a member) downloads the image", o, http.StatusNotFound)
	_, err = members.List(s.C.sc, s.shared).AllPages(ctx)
	checkRefusal(t, s.tr, "C (no longer a member) lists the members", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	_, err = members.Update(ctx, s.C.sc, s.shared, s.C.project, members.UpdateOpts{Status: "accepted"}).Extract()
	checkRefusal(t, s.tr, "C (no longer a member) accepts", outcomeOf(err, http.StatusOK), http.StatusNotFound)
}

// 5. Another tenant's private image answers 404 on every path, and as a list marker it
// is refused like an unknown marker.
func (s *scenario) stepPrivateHidden(t *testing.T) {
	s.need(t, s.private)
	ctx := t.Context()
	_, err := images.Get(ctx, s.B.sc, s.private).Extract()
	checkRefusal(t, s.tr, "B gets A's private image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	_, o := download(t, s.B, s.private)
	checkRefusal(t, s.tr, "B downloads A's private image", o, http.StatusNotFound)
	_, err = images.Update(ctx, s.B.sc, s.private, images.UpdateOpts{images.ReplaceImageName{NewName: "stolen"}}).Extract()
	checkRefusal(t, s.tr, "B renames A's private image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	resp, err := s.B.sc.Delete(ctx, s.B.sc.ServiceURL("images", s.private), &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}})
	closeBody(resp)
	checkRefusal(t, s.tr, "B deletes A's private image", outcomeOf(err, http.StatusNoContent), http.StatusNotFound)
	_, err = members.List(s.B.sc, s.private).AllPages(ctx)
	checkRefusal(t, s.tr, "B lists the members of A's private image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	_, err = members.Create(ctx, s.B.sc, s.private, s.B.project).Extract()
	checkRefusal(t, s.tr, "B adds itself as member of A's private image", outcomeOf(err, http.StatusOK), http.StatusNotFound)

	_, err = listAll(t, s.B, images.ListOpts{Marker: s.private})
	checkRefusal(t, s.tr, "B lists with marker=A's private image", outcomeOf(err, http.StatusOK), http.StatusBadRequest)
	_, err = listAll(t, s.B, images.ListOpts{Marker: "00000000-0000-4000-8000-000000000000"})
	checkRefusal(t, s.tr, "B lists with an unknown marker", outcomeOf(err, http.StatusOK), http.StatusBadRequest)
	_, err = listAll(t, s.A, images.ListOpts{Marker: s.private})
	checkStatus(t, s.tr, "A lists with marker=its private image", outcomeOf(err, http.StatusOK), http.StatusOK)
}

func closeBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
}

// 6. The visibility filters of the list.
func (s *scenario) stepVisibilityFilters(t *testing.T) {
	s.need(t, s.public, s.community, s.private)
	for _, c := range []*caller{s.A, s.B, s.C} {
		checkListed(t, s.tr, c.name+" visibility=public shows the admin's public image", c,
			images.ListOpts{Visibility: images.ImageVisibilityPublic}, s.public, true)
		checkListed(t, s.tr, c.name+" default list shows the admin's public image", c,
			images.ListOpts{}, s.public, true)
	}
	checkListed(t, s.tr, "B visibility=community shows A's community image", s.B,
		images.ListOpts{Visibility: images.ImageVisibilityCommunity}, s.community, true)
	checkListed(t, s.tr, "B default list omits A's community image", s.B,
		images.ListOpts{}, s.community, false)
	checkListed(t, s.tr, "A default list shows its own community image", s.A,
		images.ListOpts{}, s.community, true)
	_, err := images.Get(t.Context(), s.B.sc, s.community).Extract()
	checkStatus(t, s.tr, "B gets A's community image", outcomeOf(err, http.StatusOK), http.StatusOK)

	checkListed(t, s.tr, "B visibility=private omits A's private image", s.B,
		images.ListOpts{Visibility: images.ImageVisibilityPrivate}, s.private, false)
	checkListed(t, s.tr, "B visibility=all omits A's private image", s.B,
		images.ListOpts{Visibility: "all", MemberStatus: images.ImageMemberStatusAll}, s.private, false)
	checkListed(t, s.tr, "B default list omits A's private image", s.B,
		images.ListOpts{}, s.private, false)
	checkListed(t, s.tr, "A visibility=private shows its private image", s.A,
		images.ListOpts{Visibility: images.ImageVisibilityPrivate}, s.private, true)
	checkListed(t, s.tr, "B visibility=shared shows A's shared image (accepted)", s.B,
		images.ListOpts{Visibility: images.ImageVisibilityShared}, s.shared, true)
}

// tag adds (PUT) or removes (DELETE) a tag through gophercloud's client.
func tag(t *testing.T, c *caller, method, id, name string) outcome {
	t.Helper()
	url := c.sc.ServiceURL("images", id, "tags", name)
	opts := &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}}
	var resp *http.Response
	var err error
	if method == http.MethodPut {
		resp, err = c.sc.Put(t.Context(), url, nil, nil, opts)
	} else {
		resp, err = c.sc.Delete(t.Context(), url, opts)
	}
	closeBody(resp)
	return outcomeOf(err, http.StatusNoContent)
}

// 7. Tags: the owner adds and removes one; a member that sees the image may not.
func (s *scenario) stepTags(t *testing.T) {
	s.need(t, s.shared)
	checkStatus(t, s.tr, "A adds a tag", tag(t, s.A, http.MethodPut, s.shared, "e2e-tag"), http.StatusNoContent)
	if img, err := images.Get(t.Context(), s.A.sc, s.shared).Extract(); err != nil || !slices.Contains(img.Tags, "e2e-tag") {
		t.Errorf("after adding a tag: %v %v, want tags with e2e-tag", img, err)
	}
	checkStatus(t, s.tr, "A deletes the tag", tag(t, s.A, http.MethodDelete, s.shared, "e2e-tag"), http.StatusNoContent)
	checkRefusal(t, s.tr, "B (accepted member) adds a tag", tag(t, s.B, http.MethodPut, s.shared, "b-tag"), http.StatusForbidden)
	checkRefusal(t, s.tr, "B (accepted member) deletes a tag", tag(t, s.B, http.MethodDelete, s.shared, "e2e-tag"), http.StatusForbidden)
	if img, err := images.Get(t.Context(), s.A.sc, s.shared).Extract(); err == nil {
		s.tr.add("tags at the end: %v", img.Tags)
		if len(img.Tags) != 0 {
			t.Errorf("tags at the end: %v, want none", img.Tags)
		}
	}
}

// 8. PATCH: the owner renames; owner, publicize and com.rackspace properties are refused.
func (s *scenario) stepPatch(t *testing.T) {
	s.need(t, s.shared)
	ctx := t.Context()
	img, err := images.Update(ctx, s.A.sc, s.shared, images.UpdateOpts{images.ReplaceImageName{NewName: "e2e-shared-renamed"}}).Extract()
	checkStatus(t, s.tr, "A renames its image", outcomeOf(err, http.StatusOK), http.StatusOK)
	if err == nil && img.Name != "e2e-shared-renamed" {
		t.Errorf("after rename: name %q", img.Name)
	}

	refused := []struct {
		label string
		patch images.Patch
	}{
		{"A changes the owner", images.UpdateImageProperty{Op: images.ReplaceOp, Name: "owner", Value: s.B.project}},
		{"A makes its image public", images.UpdateVisibility{Visibility: images.ImageVisibilityPublic}},
		{"A sets com.rackspace.x", images.UpdateImageProperty{Op: images.AddOp, Name: "com.rackspace.x", Value: "1"}},
	}
	for _, r := range refused {
		_, err := images.Update(ctx, s.A.sc, s.shared, images.UpdateOpts{r.patch}).Extract()
		checkRefusal(t, s.tr, r.label, outcomeOf(err, http.StatusOK), http.StatusForbidden)
	}

	img, err = images.Get(ctx, s.A.sc, s.shared).Extract()
	if err != nil {
		t.Fatalf("A gets its image after the refused patches: %v", err)
	}
	_, hasProp := img.Properties["com.rackspace.x"]
	s.tr.add("after refused patches: owner=%s visibility=%s com.rackspace.x=%v", ownerName(s, img.Owner), img.Visibility, hasProp)
	if img.Owner != s.A.project || img.Visibility != images.ImageVisibilityShared || hasProp {
		t.Errorf("after refused patches: owner %q visibility %q com.rackspace.x present %v; want %q shared false",
			img.Owner, img.Visibility, hasProp, s.A.project)
	}
}

// spoofHeaders are identity headers a client must not be able to set, in the spellings
// a WSGI upstream reads as the same header.
func spoofHeaders(project string) []string {
	return []string{
		"X-Roles", "admin",
		"X-Project-Id", project,
		"X-Tenant-Id", project,
		"X-Identity-Status", "Confirmed",
		"X-User-Id", "user-" + project,
		"X_Roles", "admin",
		"X_Project_Id", project,
	}
}

// 11. B claims to be an admin of A's project in headers beside its token.
func (s *scenario) stepSpoof(t *testing.T) {
	s.need(t, s.private)
	resp, body := s.env.Request(t, http.MethodGet, "/v2/images/"+s.private, s.B.token, nil, spoofHeaders(s.A.project)...)
	checkRefusal(t, s.tr, "B with spoofed admin headers gets A's private image",
		outcome{status: resp.StatusCode, body: body, header: resp.Header}, http.StatusNotFound)
	s.spoofRequestID = resp.Header.Get("X-Request-Id")

	resp, body = s.env.Request(t, http.MethodGet, "/v2/images?visibility=all&member_status=all", s.B.token, nil, spoofHeaders(s.A.project)...)
	checkStatus(t, s.tr, "B with spoofed admin headers lists images",
		outcome{status: resp.StatusCode, body: body}, http.StatusOK)
	leaked := bytes.Contains(body, []byte(s.private))
	s.tr.add("B's spoofed list shows A's private image: %v", leaked)
	if leaked {
		t.Errorf("B's list with spoofed admin headers shows A's private image %s", s.private)
	}

	resp, body = s.env.Request(t, http.MethodDelete, "/v2/images/"+s.private, s.B.token, nil, spoofHeaders(s.A.project)...)
	checkRefusal(t, s.tr, "B with spoofed admin headers deletes A's private image",
		outcome{status: resp.StatusCode, body: body}, http.StatusNotFound)

	// A create is allowed and forwarded: Glance makes the owner from the project header
	// it receives, so a spoofed project that got through would give the image to A.
	resp, body = s.env.Request(t, http.MethodPost, "/v2/images", s.B.token,
		strings.NewReader(`{"name": "e2e-spoof", "disk_format": "raw", "container_format": "bare"}`),
		append([]string{"Content-Type", "application/json"}, spoofHeaders(s.A.project)...)...)
	checkStatus(t, s.tr, "B with spoofed headers of A creates an image",
		outcome{status: resp.StatusCode, body: body}, http.StatusCreated)
	if resp.StatusCode == http.StatusCreated {
		var img struct{ ID, Owner string }
		if err := json.Unmarshal(body, &img); err != nil || img.ID == "" {
			t.Fatalf("create answer: %v %s", err, body)
		}
		s.created = append(s.created, img.ID)
		s.tr.add("owner of B's spoofed create: %s", ownerName(s, img.Owner))
		if img.Owner != s.B.project {
			t.Errorf("B's create with spoofed headers made an image owned by %q, want B (%s)", img.Owner, s.B.project)
		}
	}
	resp, body = s.env.Request(t, http.MethodPost, "/v2/images", s.B.token,
		strings.NewReader(`{"name": "e2e-spoof-public", "visibility": "public", "disk_format": "raw", "container_format": "bare"}`),
		append([]string{"Content-Type", "application/json"}, spoofHeaders(s.A.project)...)...)
	checkRefusal(t, s.tr, "B with spoofed admin headers creates a public image",
		outcome{status: resp.StatusCode, body: body}, http.StatusForbidden)
}

// 12. The refusal of step 11 has its decision event, found by the X-Request-Id answered.
func (s *scenario) stepEvent(t *testing.T) {
	if s.spoofRequestID == "" {
		t.Fatal("step 11 got no X-Request-Id header")
	}
	ev := s.env.WaitEvent(t, s.spoofRequestID)
	var tenant string
	if ev.Input.Principal != nil {
		tenant = ev.Input.Principal.Tenant
	}
	s.tr.add("event: allow=%v status=%d operation=%s tenant=%s", ev.Result.Allow, ev.Result.Status,
		ev.Input.Operation, ownerName(s, tenant))
	if ev.Result.Allow || ev.Result.Status != http.StatusNotFound {
		t.Errorf("event %s: allow=%v status=%d, want false 404", s.spoofRequestID, ev.Result.Allow, ev.Result.Status)
	}
	if ev.Input.Operation != "images.get" || tenant != s.B.project {
		t.Errorf("event %s: operation %q tenant %q, want images.get by B (%s), not the spoofed tenant",
			s.spoofRequestID, ev.Input.Operation, tenant, s.B.project)
	}
	if len(ev.Result.Reasons) == 0 {
		t.Errorf("event %s has no reasons", s.spoofRequestID)
	}
	raw, _ := json.Marshal(ev)
	if strings.Contains(string(raw), s.B.token) {
		t.Errorf("event %s contains the caller's token", s.spoofRequestID)
	}
}

// 10. Deletes: a member may not delete; the owner removes a member and its images.
func (s *scenario) stepDelete(t *testing.T) {
	s.need(t, s.shared, s.private, s.community, s.public)
	ctx := t.Context()
	del := func(c *caller, id string) outcome {
		resp, err := c.sc.Delete(ctx, c.sc.ServiceURL("images", id), &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}})
		closeBody(resp)
		return outcomeOf(err, http.StatusNoContent)
	}
	checkRefusal(t, s.tr, "B (accepted member) deletes A's shared image", del(s.B, s.shared), http.StatusForbidden)
	checkRefusal(t, s.tr, "B deletes the admin's public image", del(s.B, s.public), http.StatusForbidden)

	err := members.Delete(ctx, s.A.sc, s.shared, s.B.project).ExtractErr()
	checkStatus(t, s.tr, "A deletes B's membership", outcomeOf(err, http.StatusNoContent), http.StatusNoContent)
	_, err = images.Get(ctx, s.B.sc, s.shared).Extract()
	checkRefusal(t, s.tr, "B (no longer a member) gets the image", outcomeOf(err, http.StatusOK), http.StatusNotFound)

	for _, img := range []struct{ label, id string }{
		{"private", s.private}, {"shared", s.shared}, {"community", s.community},
	} {
		checkStatus(t, s.tr, "A deletes its "+img.label+" image", del(s.A, img.id), http.StatusNoContent)
		_, err := images.Get(ctx, s.A.sc, img.id).Extract()
		checkRefusal(t, s.tr, "A gets its deleted "+img.label+" image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
	}
	checkStatus(t, s.tr, "admin deletes its public image", del(s.Adm, s.public), http.StatusNoContent)
	_, err = images.Get(ctx, s.B.sc, s.public).Extract()
	checkRefusal(t, s.tr, "B gets the deleted public image", outcomeOf(err, http.StatusOK), http.StatusNotFound)
}

// 9. Pagination: P owns 8 images, and Q owns 5 private images that sort between P's
// (by name, and by creation time), so that in service mode some upstream pages of 3
// hold nothing P may see. Following the next links with gophercloud's pager must give
// exactly what Glance itself lists for P, every image once.
func runPagination(t *testing.T, env *testenv.Env, direct *glanceDirect, tr *transcript) {
	P := newCaller(t, env, "P", newProject(), "member")
	Q := newCaller(t, env, "Q", newProject(), "member")
	var own, noise []string
	t.Cleanup(func() { direct.deleteImages(t, append(slices.Clone(own), noise...)) })

	prefix := "pg-" + newProject()
	mk := func(c *caller, name string, vis images.ImageVisibility) string {
		img, err := images.Create(t.Context(), c.sc, images.CreateOpts{
			Name: name, Visibility: &vis, DiskFormat: "raw", ContainerFormat: "bare",
		}).Extract()
		if err != nil {
			t.Fatalf("%s creates %s: %v", c.name, name, err)
		}
		return img.ID
	}
	for i := range 4 {
		own = append(own, mk(P, fmt.Sprintf("%s-1-%d", prefix, i), images.ImageVisibilityShared))
	}
	for i := range 5 {
		noise = append(noise, mk(Q, fmt.Sprintf("%s-2-%d", prefix, i), images.ImageVisibilityPrivate))
	}
	for i := range 4 {
		own = append(own, mk(P, fmt.Sprintf("%s-3-%d", prefix, i), images.ImageVisibilityPrivate))
	}

	cases := []struct {
		name  string
		opts  images.ListOpts
		query string
	}{
		{"default order", images.ListOpts{Limit: 3}, "limit=3"},
		{"by name", images.ListOpts{Limit: 3, SortKey: "name", SortDir: "asc"}, "limit=3&sort_key=name&sort_dir=asc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			truth := direct.listIDs(t, P.project, strings.Replace(c.query, "limit=3", "limit=1000", 1))
			for _, id := range own {
				if !slices.Contains(truth, id) {
					t.Fatalf("Glance's own list for P lacks P's image %s", id)
				}
			}
			got := listIDs(t, P, c.opts)
			n := counts(got)
			ownOnce := true
			for _, id := range own {
				if n[id] != 1 {
					ownOnce = false
					t.Errorf("P's image %s listed %d times, want once", id, n[id])
				}
			}
			var dups []string
			for id, k := range n {
				if k > 1 {
					dups = append(dups, id)
				}
			}
			missing, extra := setDiff(truth, got), setDiff(got, truth)
			same := len(missing) == 0 && len(extra) == 0 && len(dups) == 0
			tr.add("pagination %s: own images each listed once=%v, same as Glance's list=%v", c.name, ownOnce, same)
			if !same {
				rawIDs, sizes := rawPageWalk(t, env, P, "/v2/images?"+c.query)
				t.Errorf("pagination %s with gophercloud's pager: %d images, Glance lists %d for P; "+
					"missing %v, not in Glance's list %v, duplicated %v.\n"+
					"Walking the next links by hand: page sizes %v, %d images, missing %v",
					c.name, len(got), len(truth), missing, extra, dups, sizes, len(rawIDs), setDiff(truth, rawIDs))
			}
			for _, id := range noise {
				if n[id] > 0 {
					t.Errorf("P's list shows Q's private image %s", id)
				}
			}
		})
	}
}
