package imageapi

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"
)

// SeedImage is an image to preload with Seed or SeedImages.
type SeedImage struct {
	// Image is the record. Defaults: ID generated when empty, Visibility
	// shared, Status active when Data is set (else queued), CreatedAt now,
	// UpdatedAt CreatedAt. Size, Checksum, OSHashAlgo and OSHashValue are
	// computed from Data when Data is set.
	Image Image
	// Data is the image content (not subject to Options.MaxImageBytes).
	Data []byte
	// Members share the image (only shared images may have members).
	Members []SeedMember
}

// SeedMember is one membership of a seeded image.
type SeedMember struct {
	// Tenant is the member's project id.
	Tenant string
	// Status is pending (the default), accepted or rejected.
	Status string
}

// Fixture is a set of images to preload.
type Fixture struct {
	// Images are seeded in order.
	Images []SeedImage
}

// Seed preloads the fixture's images; see SeedImages.
func (a *API) Seed(f Fixture) error {
	return a.SeedImages(f.Images...)
}

// SeedImages preloads images. It validates all of them first and stores
// none when one is invalid (bad or duplicate id, unknown visibility, status
// or member status, members on an image that is not shared, a custom
// property named like a core, read-only or reserved one).
func (a *API) SeedImages(images ...SeedImage) error {
	now := a.timestamp()
	prepared := make([]*imageRecord, 0, len(images))
	members := make(map[string]map[string]*Member)
	seen := make(map[string]bool)

	a.mu.Lock()
	defer a.mu.Unlock()
	for i, s := range images {
		img := s.Image.clone()
		if img.ID == "" {
			img.ID = newUUID()
		}
		if !uuidPattern.MatchString(img.ID) {
			return fmt.Errorf("imageapi: seed image %d: id %q is not a UUID", i, img.ID)
		}
		if _, dup := a.images[img.ID]; dup || seen[img.ID] {
			return fmt.Errorf("imageapi: seed image %d: duplicate id %s", i, img.ID)
		}
		seen[img.ID] = true
		if img.Visibility == "" {
			img.Visibility = VisibilityShared
		}
		if !visibilities[img.Visibility] {
			return fmt.Errorf("imageapi: seed image %s: unknown visibility %q", img.ID, img.Visibility)
		}
		if img.Status == "" {
			img.Status = StatusQueued
			if s.Data != nil {
				img.Status = StatusActive
			}
		}
		switch img.Status {
		case StatusQueued, StatusSaving, StatusUploading, StatusImporting, StatusActive, StatusDeactivated:
		default:
			return fmt.Errorf("imageapi: seed image %s: unknown status %q", img.ID, img.Status)
		}
		if img.CreatedAt.IsZero() {
			img.CreatedAt = now
		}
		if img.UpdatedAt.IsZero() {
			img.UpdatedAt = img.CreatedAt
		}
		img.CreatedAt, img.UpdatedAt = img.CreatedAt.UTC(), img.UpdatedAt.UTC()
		img.Tags = uniqueStrings(img.Tags)
		for k := range img.Properties {
			if renderedKeys[k] || readOnlyProperties[k] || isReserved(k) || k == "locations" {
				return fmt.Errorf("imageapi: seed image %s: %q cannot be a custom property", img.ID, k)
			}
		}
		rec := &imageRecord{img: img}
		if s.Data != nil {
			d := digestOf(s.Data)
			size := d.size
			rec.data = slices.Clone(s.Data)
			rec.img.Size = &size
			rec.img.Checksum = d.checksum
			rec.img.OSHashAlgo = "sha512"
			rec.img.OSHashValue = d.hash
		}
		if len(s.Members) > 0 && img.Visibility != VisibilityShared {
			return fmt.Errorf("imageapi: seed image %s: only shared images have members", img.ID)
		}
		for _, sm := range s.Members {
			status := sm.Status
			if status == "" {
				status = MemberPending
			}
			switch status {
			case MemberPending, MemberAccepted, MemberRejected:
			default:
				return fmt.Errorf("imageapi: seed image %s: member %s: unknown status %q", img.ID, sm.Tenant, status)
			}
			if sm.Tenant == "" {
				return fmt.Errorf("imageapi: seed image %s: member without tenant", img.ID)
			}
			if members[img.ID] == nil {
				members[img.ID] = make(map[string]*Member)
			}
			members[img.ID][sm.Tenant] = &Member{ImageID: img.ID, MemberID: sm.Tenant, Status: status,
				CreatedAt: img.CreatedAt, UpdatedAt: img.CreatedAt}
		}
		prepared = append(prepared, rec)
	}
	for _, rec := range prepared {
		a.images[rec.img.ID] = rec
	}
	maps.Copy(a.members, members)
	return nil
}

// Tenants (project ids) of the demo fixture.
const (
	// DemoTenantA is project "1000".
	DemoTenantA = "1000"
	// DemoTenantB is project "2000".
	DemoTenantB = "2000"
	// DemoTenantC is project "3000".
	DemoTenantC = "3000"
)

// Well-known ids of the demo fixture's images. The first group of each id
// names the owning tenant (00001000-… is tenant A, "1000").
const (
	// DemoImageUbuntu: "ubuntu-24.04", tenant 1000, public, active, with
	// data and tags ubuntu, lts.
	DemoImageUbuntu = "00001000-0000-4000-8000-000000000001"
	// DemoImagePrivateA: "t1000-private-db", tenant 1000, private.
	DemoImagePrivateA = "00001000-0000-4000-8000-000000000002"
	// DemoImageSharedA: "t1000-shared-app", tenant 1000, shared with
	// 2000 (accepted) and 3000 (pending).
	DemoImageSharedA = "00001000-0000-4000-8000-000000000003"
	// DemoImageCommunityA: "t1000-community-tools", tenant 1000,
	// community.
	DemoImageCommunityA = "00001000-0000-4000-8000-000000000004"
	// DemoImageProtectedA: "t1000-golden", tenant 1000, private and
	// protected.
	DemoImageProtectedA = "00001000-0000-4000-8000-000000000005"
	// DemoImageDeactivatedA: "cirros-0.5-deactivated", tenant 1000,
	// public, deactivated (data download refused to non-admins).
	DemoImageDeactivatedA = "00001000-0000-4000-8000-000000000006"
	// DemoImageQueuedA: "t1000-queued", tenant 1000, private, queued
	// without data (formats set, ready for an upload).
	DemoImageQueuedA = "00001000-0000-4000-8000-000000000007"
	// DemoImageHiddenA: "t1000-hidden", tenant 1000, public and
	// os_hidden (listed only with os_hidden=true).
	DemoImageHiddenA = "00001000-0000-4000-8000-000000000008"
	// DemoImageDebian: "debian-12", tenant 2000, public, with data and
	// tag debian.
	DemoImageDebian = "00002000-0000-4000-8000-000000000001"
	// DemoImagePrivateB: "t2000-private", tenant 2000, private.
	DemoImagePrivateB = "00002000-0000-4000-8000-000000000002"
	// DemoImageSharedB: "t2000-shared", tenant 2000, shared with 1000
	// (rejected) and 3000 (accepted).
	DemoImageSharedB = "00002000-0000-4000-8000-000000000003"
	// DemoImageCommunityB: "t2000-community", tenant 2000, community.
	DemoImageCommunityB = "00002000-0000-4000-8000-000000000004"
	// DemoImagePrivateC: "t3000-private", tenant 3000, private.
	DemoImagePrivateC = "00003000-0000-4000-8000-000000000001"
	// DemoImageSharedC: "t3000-shared", tenant 3000, shared with 1000
	// (pending).
	DemoImageSharedC = "00003000-0000-4000-8000-000000000002"

	// DemoPrivateImageA is another name of DemoImagePrivateA.
	DemoPrivateImageA = DemoImagePrivateA
)

// demoEpoch is the creation time of the first demo image; each later image
// is one hour younger, so the default list order is fixed.
var demoEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// DemoFixture returns the demo images: three tenants (1000, 2000, 3000) and
// every visibility, shared images with pending, accepted and rejected
// members, images with data and tags, a protected, a deactivated, a queued
// and a hidden one. See the DemoImage* constants.
func DemoFixture() Fixture {
	type spec struct {
		id, name, owner, visibility, status string
		dataKiB                             int
		tags                                []string
		props                               map[string]string
		protected, hidden                   bool
		members                             []SeedMember
	}
	specs := []spec{
		{id: DemoImageUbuntu, name: "ubuntu-24.04", owner: DemoTenantA, visibility: VisibilityPublic, dataKiB: 256,
			tags: []string{"ubuntu", "lts"}, props: map[string]string{"os_distro": "ubuntu", "os_version": "24.04", "architecture": "x86_64"}},
		{id: DemoImagePrivateA, name: "t1000-private-db", owner: DemoTenantA, visibility: VisibilityPrivate, dataKiB: 64,
			tags: []string{"db"}},
		{id: DemoImageSharedA, name: "t1000-shared-app", owner: DemoTenantA, visibility: VisibilityShared, dataKiB: 64,
			tags: []string{"app"}, members: []SeedMember{{DemoTenantB, MemberAccepted}, {DemoTenantC, MemberPending}}},
		{id: DemoImageCommunityA, name: "t1000-community-tools", owner: DemoTenantA, visibility: VisibilityCommunity, dataKiB: 32},
		{id: DemoImageProtectedA, name: "t1000-golden", owner: DemoTenantA, visibility: VisibilityPrivate, dataKiB: 64,
			tags: []string{"golden"}, protected: true},
		{id: DemoImageDeactivatedA, name: "cirros-0.5-deactivated", owner: DemoTenantA, visibility: VisibilityPublic,
			status: StatusDeactivated, dataKiB: 16, props: map[string]string{"os_distro": "cirros"}},
		{id: DemoImageQueuedA, name: "t1000-queued", owner: DemoTenantA, visibility: VisibilityPrivate},
		{id: DemoImageHiddenA, name: "t1000-hidden", owner: DemoTenantA, visibility: VisibilityPublic, dataKiB: 16, hidden: true},
		{id: DemoImageDebian, name: "debian-12", owner: DemoTenantB, visibility: VisibilityPublic, dataKiB: 256,
			tags: []string{"debian"}, props: map[string]string{"os_distro": "debian", "os_version": "12", "architecture": "x86_64"}},
		{id: DemoImagePrivateB, name: "t2000-private", owner: DemoTenantB, visibility: VisibilityPrivate, dataKiB: 64},
		{id: DemoImageSharedB, name: "t2000-shared", owner: DemoTenantB, visibility: VisibilityShared, dataKiB: 64,
			members: []SeedMember{{DemoTenantA, MemberRejected}, {DemoTenantC, MemberAccepted}}},
		{id: DemoImageCommunityB, name: "t2000-community", owner: DemoTenantB, visibility: VisibilityCommunity, dataKiB: 32},
		{id: DemoImagePrivateC, name: "t3000-private", owner: DemoTenantC, visibility: VisibilityPrivate, dataKiB: 64},
		{id: DemoImageSharedC, name: "t3000-shared", owner: DemoTenantC, visibility: VisibilityShared, dataKiB: 64,
			members: []SeedMember{{DemoTenantA, MemberPending}}},
	}
	f := Fixture{Images: make([]SeedImage, 0, len(specs))}
	for i, s := range specs {
		created := demoEpoch.Add(time.Duration(i) * time.Hour)
		img := Image{
			ID: s.id, Name: s.name, Owner: s.owner, Visibility: s.visibility, Status: s.status,
			Protected: s.protected, OSHidden: s.hidden, Tags: s.tags, Properties: s.props,
			ContainerFormat: "bare", DiskFormat: "qcow2", MinDisk: 1, MinRAM: 128,
			CreatedAt: created, UpdatedAt: created,
		}
		var data []byte
		if s.dataKiB > 0 {
			data = demoData(s.name, s.dataKiB<<10)
		}
		f.Images = append(f.Images, SeedImage{Image: img, Data: data, Members: s.members})
	}
	return f
}

// NewDemo returns an API preloaded with DemoFixture.
func NewDemo(opts Options) *API {
	a := New(opts)
	if err := a.Seed(DemoFixture()); err != nil {
		panic("imageapi: demo fixture is invalid: " + err.Error())
	}
	return a
}

// demoData returns size deterministic pseudo-random bytes derived from seed.
func demoData(seed string, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	block := sha256.Sum256([]byte(seed))
	for len(out) < size {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:size]
}

// uniqueStrings returns a copy of values without duplicates, in order.
func uniqueStrings(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
