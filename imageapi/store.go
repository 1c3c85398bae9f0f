package imageapi

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// Image visibilities.
const (
	VisibilityPublic    = "public"
	VisibilityPrivate   = "private"
	VisibilityShared    = "shared"
	VisibilityCommunity = "community"
)

// Image statuses (those the fake uses).
const (
	StatusQueued      = "queued"
	StatusSaving      = "saving"
	StatusUploading   = "uploading"
	StatusImporting   = "importing"
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// TimeFormat is how the API renders dates: ISO 8601 in UTC, whole seconds.
const TimeFormat = "2006-01-02T15:04:05Z"

// Image is one image record as the API stores it. Values returned by the API
// are copies: changing them changes nothing stored.
type Image struct {
	// ID is a UUID.
	ID string
	// Name is the image's name; empty renders as null.
	Name string
	// Status is queued, saving, uploading, importing, active or deactivated.
	Status string
	// Visibility is public, private, shared or community.
	Visibility string
	// Protected images cannot be deleted.
	Protected bool
	// OSHidden images are left out of lists unless os_hidden=true.
	OSHidden bool
	// Owner is the owning project; empty renders as null.
	Owner string
	// Tags are the image's tags, without duplicates, in insertion order.
	Tags []string
	// ContainerFormat and DiskFormat: empty renders as null.
	ContainerFormat string
	DiskFormat      string
	// Size is the data size in bytes, nil before data exist.
	Size *int64
	// VirtualSize is never computed by the fake; nil renders as null.
	VirtualSize *int64
	// Checksum is the MD5 of the data (hex); OSHashAlgo is "sha512" and
	// OSHashValue the SHA-512 of the data (hex), once data exist.
	Checksum    string
	OSHashAlgo  string
	OSHashValue string
	// MinDisk (GB) and MinRAM (MB) requirements.
	MinDisk int
	MinRAM  int
	// CreatedAt and UpdatedAt are kept with full precision and rendered
	// with TimeFormat.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Properties are the custom string properties, shown at the top level
	// of the image document. Imports add Glance's os_glance_* bookkeeping
	// properties here.
	Properties map[string]string
}

func (img Image) clone() Image {
	img.Tags = slices.Clone(img.Tags)
	img.Properties = maps.Clone(img.Properties)
	if img.Size != nil {
		v := *img.Size
		img.Size = &v
	}
	if img.VirtualSize != nil {
		v := *img.VirtualSize
		img.VirtualSize = &v
	}
	return img
}

// hasTag reports whether the image carries tag.
func (img *Image) hasTag(tag string) bool {
	return slices.Contains(img.Tags, tag)
}

// Member is one image membership: the image is shared with project MemberID.
type Member struct {
	// ImageID is the shared image.
	ImageID string
	// MemberID is the project the image is shared with.
	MemberID string
	// Status is pending, accepted or rejected.
	Status string
	// CreatedAt and UpdatedAt are the membership's timestamps.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Task is a Glance task record.
type Task struct {
	// ID is a UUID.
	ID string
	// Type is import or export (POST /v2/tasks), or api_image_import
	// (recorded by POST /v2/images/{id}/import).
	Type string
	// Status is pending, processing, success or failure.
	Status string
	// Owner is the creating project.
	Owner string
	// Message explains failures; empty otherwise.
	Message string
	// ImageID is set for tasks about one image (imports).
	ImageID string
	// UserID is the creating user; RequestID the creating request.
	UserID    string
	RequestID string
	// Input is the task's input document; Result its result (nil while
	// pending).
	Input  map[string]any
	Result map[string]any
	// CreatedAt, UpdatedAt and ExpiresAt (nil: never) are the task's times.
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt *time.Time
}

// imageRecord is a stored image with its data.
type imageRecord struct {
	img Image
	// data is the image data; never modified in place once set, so a
	// reader may keep the slice after unlocking.
	data []byte
	// staged holds data put with PUT .../stage until the import.
	staged []byte
}

// Image returns a copy of the image with the given id.
func (a *API) Image(id string) (Image, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	rec, ok := a.images[id]
	if !ok {
		return Image{}, false
	}
	return rec.img.clone(), true
}

// ImageData returns a copy of the image's data, and false when the image does
// not exist or has no data.
func (a *API) ImageData(id string) ([]byte, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	rec, ok := a.images[id]
	if !ok || rec.data == nil {
		return nil, false
	}
	return slices.Clone(rec.data), true
}

// Images returns copies of all stored images, newest first.
func (a *API) Images() []Image {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Image, 0, len(a.images))
	for _, rec := range a.images {
		out = append(out, rec.img.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// Membership returns the status of tenant's membership of the image, and
// false when there is none.
func (a *API) Membership(imageID, tenant string) (status string, ok bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	m, ok := a.members[imageID][tenant]
	if !ok {
		return "", false
	}
	return m.Status, true
}

// Members returns copies of the image's members, sorted by member id.
func (a *API) Members(imageID string) []Member {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.sortedMembers(imageID)
}

// sortedMembers copies the image's members sorted by member id. The caller
// holds a.mu.
func (a *API) sortedMembers(imageID string) []Member {
	ms := a.members[imageID]
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MemberID < out[j].MemberID })
	return out
}

// TaskByID returns a copy of the task with the given id.
func (a *API) TaskByID(id string) (Task, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	t, ok := a.tasks[id]
	if !ok {
		return Task{}, false
	}
	return t.clone(), true
}

func (t *Task) clone() Task {
	c := *t
	c.Input = maps.Clone(t.Input)
	c.Result = maps.Clone(t.Result)
	if t.ExpiresAt != nil {
		e := *t.ExpiresAt
		c.ExpiresAt = &e
	}
	return c
}

// timestamp returns the current time in UTC.
func (a *API) timestamp() time.Time {
	return a.now().UTC()
}

// formatTime renders t with TimeFormat.
func formatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}
