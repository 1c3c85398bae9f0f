package imageapi

import (
	"fmt"
	"slices"
	"time"
)

// GcoreFixture is what SeedGcore preloads into a v1 API.
type GcoreFixture struct {
	// Accounts place projects under clients and resellers.
	Accounts []GcoreAccount
	// Images are stored as given; ID and times are filled in when empty.
	Images []GcoreImage
	// Limits are reseller_image rows; Shared are shared_image rows.
	Limits []LimitRow
	Shared []SharedRow
}

// SeedGcore preloads a fixture. It checks it first and stores nothing when an image has
// no region or project, an unknown visibility, or a duplicate id, or a row names an
// unknown entity type.
func (a *GcoreAPI) SeedGcore(f GcoreFixture) error {
	now := a.now().UTC()
	images := make([]*GcoreImage, 0, len(f.Images))
	seen := map[string]bool{}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, img := range f.Images {
		img.Metadata = slices.Clone(img.Metadata)
		if img.ID == "" {
			img.ID = newUUID()
		}
		if _, dup := a.images[img.ID]; dup || seen[img.ID] {
			return fmt.Errorf("imageapi: gcore image %d: duplicate id %s", i, img.ID)
		}
		seen[img.ID] = true
		if img.RegionID == "" || img.ProjectID == "" {
			return fmt.Errorf("imageapi: gcore image %s: project and region are required", img.ID)
		}
		switch img.Visibility {
		case VisibilityPrivate, VisibilityPublic, VisibilityShared:
		default:
			return fmt.Errorf("imageapi: gcore image %s: unknown visibility %q", img.ID, img.Visibility)
		}
		if img.Status == "" {
			img.Status = StatusActive
		}
		if img.CreatedAt.IsZero() {
			// Seeded images keep their order: one second apart.
			img.CreatedAt = now.Add(time.Duration(i-len(f.Images)) * time.Second)
		}
		if img.UpdatedAt.IsZero() {
			img.UpdatedAt = img.CreatedAt
		}
		images = append(images, &img)
	}
	for _, row := range f.Shared {
		switch row.EntityType {
		case "reseller", "client", "project":
		default:
			return fmt.Errorf("imageapi: gcore shared row: unknown entity type %q", row.EntityType)
		}
	}
	for _, img := range images {
		a.images[img.ID] = img
	}
	for _, acc := range f.Accounts {
		a.accounts[acc.Project] = acc
	}
	for _, row := range f.Limits {
		a.setLimit(fmt.Sprint(row.ResellerID), fmt.Sprint(row.RegionID), row.ImageIDs)
	}
	for _, row := range f.Shared {
		a.setShared(row.EntityType, fmt.Sprint(row.EntityID), fmt.Sprint(row.RegionID), slices.Clone(row.ImageIDs))
	}
	return nil
}

// The demo's v1 world: two resellers with their clients, a client of no reseller and a
// cloud admin, in regions 1 (Luxembourg) and 2 (Frankfurt).
const (
	// GcoreResellerBlue and GcoreResellerGreen are the two resellers.
	GcoreResellerBlue  = "1001"
	GcoreResellerGreen = "2002"
	// GcoreProjectBlueA (client 11) and GcoreProjectBlueB (client 12) are clients of Blue;
	// GcoreProjectGreen (client 21) of Green; GcoreProjectIndie (client 31) of no reseller.
	GcoreProjectBlueA = "111"
	GcoreProjectBlueB = "121"
	GcoreProjectGreen = "211"
	GcoreProjectIndie = "311"
	// GcoreProjectAdmin is the cloud operator's project.
	GcoreProjectAdmin = "1"
	// GcoreRegion is the region of most demo images; GcoreRegion2 has a few.
	GcoreRegion  = "1"
	GcoreRegion2 = "2"
)

// Ids of the demo's v1 images.
const (
	GcoreImageUbuntu  = "9a1e0c2e-0001-4000-8000-000000000001"
	GcoreImageDebian  = "9a1e0c2e-0002-4000-8000-000000000002"
	GcoreImageCentOS  = "9a1e0c2e-0003-4000-8000-000000000003"
	GcoreImageWindows = "9a1e0c2e-0004-4000-8000-000000000004"
	GcoreImageAlpine  = "9a1e0c2e-0005-4000-8000-000000000005"
	GcoreImageFedora  = "9a1e0c2e-0006-4000-8000-000000000006"
	// GcoreImageUbuntu2 is Ubuntu in region 2.
	GcoreImageUbuntu2 = "9a1e0c2e-0007-4000-8000-000000000007"
	// GcoreImageBlueGolden is a private image of Blue's client A, shared with all of
	// Blue's clients.
	GcoreImageBlueGolden = "9a1e0c2e-0101-4000-8000-000000000101"
	// GcoreImageBlueApp is a private image of Blue's client B.
	GcoreImageBlueApp = "9a1e0c2e-0102-4000-8000-000000000102"
	// GcoreImageGreenWeb is a private image of Green's client.
	GcoreImageGreenWeb = "9a1e0c2e-0201-4000-8000-000000000201"
	// GcoreImageIndie is a private image of the client of no reseller.
	GcoreImageIndie = "9a1e0c2e-0301-4000-8000-000000000301"
)

// GcoreDemoFixture returns the demo's v1 world. Reseller Blue (1001) limits its clients
// to Ubuntu and Debian in region 1 (no limit in region 2) and shares Blue Golden with
// them; reseller Green (2002) limits its clients to Windows and Alpine in region 1.
func GcoreDemoFixture() GcoreFixture {
	billing := func(v string) []MetadataItem {
		return []MetadataItem{{Key: "billing", Value: v, ReadOnly: true}, {Key: "purpose", Value: "demo"}}
	}
	public := func(id, name, distro, osType, region string) GcoreImage {
		return GcoreImage{ID: id, Name: name, Visibility: VisibilityPublic, ProjectID: GcoreProjectAdmin, RegionID: region,
			OSDistro: distro, OSType: osType, DiskFormat: "qcow2", MinDisk: 5, Size: 2 << 30, Metadata: billing("included")}
	}
	private := func(id, name, project string) GcoreImage {
		return GcoreImage{ID: id, Name: name, Visibility: VisibilityPrivate, ProjectID: project, RegionID: GcoreRegion,
			OSDistro: "ubuntu", OSType: "linux", DiskFormat: "qcow2", MinDisk: 10, Size: 3 << 30, Metadata: billing("paid")}
	}
	blueLimit := []string{GcoreImageUbuntu, GcoreImageDebian}
	greenLimit := []string{GcoreImageWindows, GcoreImageAlpine}
	return GcoreFixture{
		Accounts: []GcoreAccount{
			{Project: GcoreProjectBlueA, Client: "11", Reseller: GcoreResellerBlue},
			{Project: GcoreProjectBlueB, Client: "12", Reseller: GcoreResellerBlue},
			{Project: GcoreProjectGreen, Client: "21", Reseller: GcoreResellerGreen},
			{Project: GcoreProjectIndie, Client: "31"},
			{Project: GcoreProjectAdmin, Client: "1"},
		},
		Images: []GcoreImage{
			public(GcoreImageUbuntu, "ubuntu-24.04", "ubuntu", "linux", GcoreRegion),
			public(GcoreImageDebian, "debian-12", "debian", "linux", GcoreRegion),
			public(GcoreImageCentOS, "centos-stream-9", "centos", "linux", GcoreRegion),
			public(GcoreImageWindows, "windows-server-2022", "windows", "windows", GcoreRegion),
			public(GcoreImageAlpine, "alpine-3.20", "alpine", "linux", GcoreRegion),
			public(GcoreImageFedora, "fedora-40", "fedora", "linux", GcoreRegion),
			public(GcoreImageUbuntu2, "ubuntu-24.04", "ubuntu", "linux", GcoreRegion2),
			private(GcoreImageBlueGolden, "blue-golden", GcoreProjectBlueA),
			private(GcoreImageBlueApp, "blue-app", GcoreProjectBlueB),
			private(GcoreImageGreenWeb, "green-web", GcoreProjectGreen),
			private(GcoreImageIndie, "indie", GcoreProjectIndie),
		},
		Limits: []LimitRow{
			{ResellerID: 1001, RegionID: 1, ImageIDs: &blueLimit},
			{ResellerID: 1001, RegionID: 2},
			{ResellerID: 2002, RegionID: 1, ImageIDs: &greenLimit},
		},
		Shared: []SharedRow{
			{EntityType: "reseller", EntityID: 1001, RegionID: 1, ImageIDs: []string{GcoreImageBlueGolden}},
		},
	}
}
