package imageapi

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GcoreAPI is an in-memory imitation of a Gcore-style cloud images v1 API (API-NOTES §B):
// images scoped by project and region in the path, their metadata items, reseller image
// limits and shared images. It is an http.Handler, safe for concurrent use, serving every
// path both as /v1/… and as /cloud/v1/….
//
// Identity comes from the same trusted headers as the Glance imitation (X-Identity-Status:
// Confirmed, X-Project-Id, X-Roles, X-User-Id); the API knows which client and reseller a
// project belongs to from its accounts (GcoreFixture.Accounts), as the real service knows
// its customers.
//
// In Enforcing mode it applies the rules itself: a caller acts in its own project unless
// it has the admin role; it sees its project's images, the public images its reseller's
// limit allows and the images shared with its reseller, client or project (others: 404);
// only the owner (member role) or an admin changes an image; read-only metadata items
// change only by an admin; reseller limits are set by an admin, or by a reseller_admin for
// its own reseller; shared images by an admin, or by a reseller_admin for its reseller.
//
// In Naive mode it trusts whoever calls: lists hold every image of the region, whatever
// project the path names, any image is read and changed by anyone, and anyone sets limits.
// Request bodies and queries are still checked (400).
type GcoreAPI struct {
	mode Mode
	now  func() time.Time
	mux  *http.ServeMux

	mu       sync.RWMutex
	images   map[string]*GcoreImage
	accounts map[string]GcoreAccount
	limits   map[string]map[string]limitEntry          // reseller → region → limit
	shared   map[string]map[string]map[string][]string // entity type → id → region → ids

	rec recorder
}

// GcoreImage is an image record of the v1 API. Ids of projects and regions are decimal
// strings here and numbers in JSON.
type GcoreImage struct {
	ID, Name, Description string
	// Visibility is private, public or shared.
	Visibility string
	Status     string
	// ProjectID owns the image; RegionID is where it lives.
	ProjectID, RegionID string
	OSDistro, OSType    string
	OSVersion           string
	DiskFormat          string
	MinDisk, MinRAM     int
	Size                int64
	// Metadata are the image's items, in order; read-only items change only by an admin.
	Metadata  []MetadataItem
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MetadataItem is one metadata item of an image.
type MetadataItem struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	ReadOnly bool   `json:"read_only"`
}

// GcoreAccount places a project: its client and, when the client has one, its reseller.
type GcoreAccount struct {
	Project, Client, Reseller string
}

// limitEntry is one reseller_image row; all means image_ids null.
type limitEntry struct {
	all bool
	ids []string
}

// Region names of the region ids the fixture uses; others are "region-N".
var gcoreRegions = map[string]string{"1": "Luxembourg", "2": "Frankfurt"}

// NewGcore returns an empty v1 API; add images with SeedGcore or through the API.
func NewGcore(opts Options) *GcoreAPI {
	a := &GcoreAPI{
		mode:     opts.Mode,
		now:      opts.Now,
		mux:      http.NewServeMux(),
		images:   map[string]*GcoreImage{},
		accounts: map[string]GcoreAccount{},
		limits:   map[string]map[string]limitEntry{},
		shared:   map[string]map[string]map[string][]string{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	size := opts.RequestLogSize
	if size == 0 {
		size = DefaultRequestLogSize
	}
	a.rec.init(size)
	a.routes()
	return a
}

// Mode reports the mode the API was created with.
func (a *GcoreAPI) Mode() Mode { return a.mode }

// Stats counts the requests received per route ("GET /v1/images/{project_id}/{region_id}", …).
func (a *GcoreAPI) Stats() Stats { return a.rec.stats() }

// Requests returns the recorded requests, oldest first, with their headers: tests tell
// the proxy's own lookups (its service identity) from forwarded calls by them.
func (a *GcoreAPI) Requests() []RecordedRequest { return a.rec.requests() }

// Image returns a copy of the stored image id.
func (a *GcoreAPI) Image(id string) (GcoreImage, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	img, ok := a.images[id]
	if !ok {
		return GcoreImage{}, false
	}
	c := *img
	c.Metadata = slices.Clone(img.Metadata)
	return c, true
}

const (
	gImages   = "/v1/images/{project_id}/{region_id}"
	gImage    = gImages + "/{image_id}"
	gReseller = "/v1/reseller_image"
	gShared   = "/v1/shared_image"
)

func (a *GcoreAPI) routes() {
	a.handle("GET /{$}", func(w http.ResponseWriter, _ *http.Request, _ *gcoreCaller) {
		writeJSON(w, http.StatusOK, map[string]any{"versions": []map[string]string{{"id": "v1", "status": "CURRENT"}}})
	})
	a.handle("GET "+gImages, a.serveList)
	a.handle("POST "+gImages, a.serveCreate)
	a.handle("GET /v1/projectimages/{project_id}/{region_id}", a.serveList)
	a.handle("GET "+gImage, a.serveGet)
	a.handle("PATCH "+gImage, a.serveUpdate)
	a.handle("DELETE "+gImage, a.serveDelete)
	a.handle("GET "+gImage+"/metadata", a.serveMetadataList)
	a.handle("POST "+gImage+"/metadata", a.serveMetadataWrite)
	a.handle("PUT "+gImage+"/metadata", a.serveMetadataWrite)
	a.handle("GET "+gImage+"/metadata_item", a.serveMetadataItem)
	a.handle("DELETE "+gImage+"/metadata_item", a.serveMetadataItem)
	a.handle("GET "+gReseller+"/{reseller_id}", a.serveLimitsGet)
	a.handle("PUT "+gReseller, a.serveLimitsSet)
	a.handle("DELETE "+gReseller+"/{reseller_id}", a.serveLimitsDelete)
	a.handle("GET "+gShared, a.serveShared)
	a.handle("PUT "+gShared, a.serveSharedSet)
	a.handle("DELETE "+gShared, a.serveShared)
}

// gcoreCaller is the identity of a request and what the API knows of its project.
type gcoreCaller struct {
	GcoreAccount
	admin, resellerAdmin, writer, reader bool
	naive                                bool
}

type gcoreHandler func(w http.ResponseWriter, r *http.Request, c *gcoreCaller)

func (a *GcoreAPI) handle(pattern string, h gcoreHandler) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		a.rec.record(r, pattern, a.now())
		c := a.callerOf(r)
		if a.mode == Enforcing && pattern != "GET /{$}" {
			if r.Header.Get("X-Identity-Status") != "Confirmed" {
				writeError(w, http.StatusUnauthorized, "Authentication required.")
				return
			}
			if !c.reader {
				writeError(w, http.StatusForbidden, "No role of the caller grants this request.")
				return
			}
		}
		h(w, r, c)
	})
}

// ServeHTTP serves the v1 API; /cloud/v1/… is the same as /v1/….
func (a *GcoreAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/cloud/"); ok {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/"+rest, ""
		r = r2
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		// No route: ServeMux's plain-text 404 or 405, as a JSON error.
		a.rec.record(r, RouteUnmatched, a.now())
		a.mux.ServeHTTP(&jsonErrorWriter{ResponseWriter: w}, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *GcoreAPI) callerOf(r *http.Request) *gcoreCaller {
	c := &gcoreCaller{naive: a.mode == Naive}
	project := r.Header.Get("X-Project-Id")
	a.mu.RLock()
	c.GcoreAccount = a.accounts[project]
	a.mu.RUnlock()
	c.Project = project
	for _, role := range strings.Split(r.Header.Get("X-Roles"), ",") {
		switch strings.TrimSpace(role) {
		case "admin":
			c.admin, c.writer, c.reader = true, true, true
		case "reseller_admin":
			c.resellerAdmin, c.writer, c.reader = true, true, true
		case "member":
			c.writer, c.reader = true, true
		case "reader":
			c.reader = true
		}
	}
	return c
}

// inProject refuses a caller acting in another project than its own.
func (c *gcoreCaller) inProject(w http.ResponseWriter, project string) bool {
	if c.naive || c.admin || c.Project == project {
		return true
	}
	writeError(w, http.StatusForbidden, "Project "+project+" is not the caller's project.")
	return false
}

// sees reports whether the caller sees img: the caller holds a.mu.
func (a *GcoreAPI) sees(c *gcoreCaller, img *GcoreImage) bool {
	if c.naive || c.admin || img.ProjectID == c.Project {
		return true
	}
	if img.Visibility == VisibilityPublic && a.publicAllowed(c, img) {
		return true
	}
	return a.sharedWith(c, img)
}

func (a *GcoreAPI) publicAllowed(c *gcoreCaller, img *GcoreImage) bool {
	if c.Reseller == "" {
		return true
	}
	l, ok := a.limits[c.Reseller][img.RegionID]
	return !ok || l.all || slices.Contains(l.ids, img.ID)
}

func (a *GcoreAPI) sharedWith(c *gcoreCaller, img *GcoreImage) bool {
	for kind, id := range map[string]string{"reseller": c.Reseller, "client": c.Client, "project": c.Project} {
		if id != "" && slices.Contains(a.shared[kind][id][img.RegionID], img.ID) {
			return true
		}
	}
	return false
}

// canChange reports whether the caller may change img.
func (c *gcoreCaller) canChange(img *GcoreImage) bool {
	return c.naive || c.admin || (c.writer && img.ProjectID == c.Project)
}

// ----------------------------------------------------------------------------------------
// Images

func (a *GcoreAPI) serveList(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	project, region := r.PathValue("project_id"), r.PathValue("region_id")
	if !validIDs(w, project, region) || !c.inProject(w, project) {
		return
	}
	q := r.URL.Query()
	var kv map[string]string
	if raw := q.Get("metadata_kv"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &kv); err != nil {
			writeError(w, http.StatusBadRequest, "metadata_kv must be a JSON object of strings.")
			return
		}
	}
	own := strings.HasPrefix(r.URL.Path, "/v1/projectimages/")
	a.mu.RLock()
	results := []json.RawMessage{}
	for _, img := range a.sortedImages() {
		if img.RegionID != region || (own && img.ProjectID != project) {
			continue
		}
		if !own && !a.sees(c, img) {
			continue
		}
		if v := q.Get("visibility"); v != "" && img.Visibility != v {
			continue
		}
		if !img.hasMetadata(kv) {
			continue
		}
		results = append(results, img.encode())
	}
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(results), "results": results})
}

func (a *GcoreAPI) serveCreate(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	project, region := r.PathValue("project_id"), r.PathValue("region_id")
	if !validIDs(w, project, region) || !c.inProject(w, project) {
		return
	}
	if !c.naive && !c.writer {
		writeError(w, http.StatusForbidden, "Creating images needs the member role.")
		return
	}
	var body struct {
		Name       string `json:"name"`
		Visibility string `json:"visibility"`
		VolumeID   string `json:"volume_id"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.Visibility == "" {
		body.Visibility = VisibilityPrivate
	}
	if body.Visibility == VisibilityPublic && !c.naive && !c.admin {
		writeError(w, http.StatusForbidden, "Only an admin creates public images.")
		return
	}
	now := a.now().UTC()
	img := &GcoreImage{ID: newUUID(), Name: body.Name, Visibility: body.Visibility, Status: StatusActive,
		ProjectID: project, RegionID: region, DiskFormat: "qcow2", CreatedAt: now, UpdatedAt: now}
	a.mu.Lock()
	a.images[img.ID] = img
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"tasks": []string{newUUID()}, "image_id": img.ID})
}

// image finds the path's image for the caller, answering 404 (or 403 for another
// project) itself; the caller then holds a.mu as locked (write when write is set).
func (a *GcoreAPI) image(w http.ResponseWriter, r *http.Request, c *gcoreCaller, write bool) (*GcoreImage, func()) {
	project, region := r.PathValue("project_id"), r.PathValue("region_id")
	if !validIDs(w, project, region) || !c.inProject(w, project) {
		return nil, nil
	}
	unlock := a.mu.RUnlock
	if write {
		a.mu.Lock()
		unlock = a.mu.Unlock
	} else {
		a.mu.RLock()
	}
	img, ok := a.images[r.PathValue("image_id")]
	if !ok || img.RegionID != region || !a.sees(c, img) {
		unlock()
		writeError(w, http.StatusNotFound, "Image not found.")
		return nil, nil
	}
	return img, unlock
}

func (a *GcoreAPI) serveGet(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	img, unlock := a.image(w, r, c, false)
	if img == nil {
		return
	}
	body := img.encode()
	unlock()
	writeRawJSON(w, http.StatusOK, body)
}

func (a *GcoreAPI) serveUpdate(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	var body map[string]json.RawMessage
	if !readBody(w, r, &body) {
		return
	}
	img, unlock := a.image(w, r, c, true)
	if img == nil {
		return
	}
	defer unlock()
	if !c.canChange(img) {
		writeError(w, http.StatusForbidden, "Only the owner changes the image.")
		return
	}
	for k, raw := range body {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			writeError(w, http.StatusBadRequest, k+" must be a string.")
			return
		}
		switch k {
		case "name":
			img.Name = s
		case "description":
			img.Description = s
		case "os_type":
			img.OSType = s
		case "visibility":
			if s == VisibilityPublic && !c.naive && !c.admin {
				writeError(w, http.StatusForbidden, "Only an admin makes an image public.")
				return
			}
			img.Visibility = s
		default:
			writeError(w, http.StatusBadRequest, "Field "+k+" cannot be updated.")
			return
		}
	}
	img.UpdatedAt = a.now().UTC()
	writeRawJSON(w, http.StatusOK, img.encode())
}

func (a *GcoreAPI) serveDelete(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	img, unlock := a.image(w, r, c, true)
	if img == nil {
		return
	}
	defer unlock()
	if !c.canChange(img) {
		writeError(w, http.StatusForbidden, "Only the owner deletes the image.")
		return
	}
	delete(a.images, img.ID)
	writeJSON(w, http.StatusOK, map[string]any{"tasks": []string{newUUID()}})
}

// ----------------------------------------------------------------------------------------
// Metadata

func (a *GcoreAPI) serveMetadataList(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	img, unlock := a.image(w, r, c, false)
	if img == nil {
		return
	}
	items := slices.Clone(img.Metadata)
	unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "results": nonNil(items)})
}

func (a *GcoreAPI) serveMetadataWrite(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	var body map[string]string
	if !readBody(w, r, &body) {
		return
	}
	for k, v := range body {
		if k == "" || len(k) > 255 || len(v) > 1024 {
			writeError(w, http.StatusBadRequest, "Metadata keys are 1 to 255 bytes, values at most 1024.")
			return
		}
	}
	img, unlock := a.image(w, r, c, true)
	if img == nil {
		return
	}
	defer unlock()
	if !c.canChange(img) {
		writeError(w, http.StatusForbidden, "Only the owner changes the image's metadata.")
		return
	}
	replace := r.Method == http.MethodPut
	var kept []MetadataItem
	for _, it := range img.Metadata {
		v, given := body[it.Key]
		changes := (given && v != it.Value) || (replace && !given)
		if it.ReadOnly && changes && !c.naive && !c.admin {
			writeError(w, http.StatusForbidden, "Metadata item "+it.Key+" is read-only.")
			return
		}
		if given {
			it.Value = v
			delete(body, it.Key)
		}
		if given || !replace {
			kept = append(kept, it)
		}
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kept = append(kept, MetadataItem{Key: k, Value: body[k]})
	}
	img.Metadata = kept
	img.UpdatedAt = a.now().UTC()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(kept), "results": nonNil(kept)})
}

func (a *GcoreAPI) serveMetadataItem(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "The query parameter key is required.")
		return
	}
	del := r.Method == http.MethodDelete
	img, unlock := a.image(w, r, c, del)
	if img == nil {
		return
	}
	defer unlock()
	i := slices.IndexFunc(img.Metadata, func(it MetadataItem) bool { return it.Key == key })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Metadata item "+key+" not found.")
		return
	}
	if !del {
		writeJSON(w, http.StatusOK, img.Metadata[i])
		return
	}
	if !c.canChange(img) || (img.Metadata[i].ReadOnly && !c.naive && !c.admin) {
		writeError(w, http.StatusForbidden, "Metadata item "+key+" cannot be deleted by the caller.")
		return
	}
	img.Metadata = slices.Delete(img.Metadata, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

// ----------------------------------------------------------------------------------------
// Reseller limits and shared images

// LimitRow is a reseller_image record; ImageIDs nil is image_ids null.
type LimitRow struct {
	ImageIDs   *[]string `json:"image_ids"`
	RegionID   int64     `json:"region_id"`
	ResellerID int64     `json:"reseller_id"`
}

// SharedRow is a shared_image record.
type SharedRow struct {
	EntityID   int64    `json:"entity_id"`
	EntityType string   `json:"entity_type"`
	ImageIDs   []string `json:"image_ids"`
	RegionID   int64    `json:"region_id"`
}

// mayManage reports whether the caller sets the limits or shared images of a reseller.
func (c *gcoreCaller) mayManage(kind, id string) bool {
	return c.naive || c.admin || (c.resellerAdmin && kind == "reseller" && id == c.Reseller && id != "")
}

func (a *GcoreAPI) serveLimitsGet(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	id := r.PathValue("reseller_id")
	if !validIDs(w, id) {
		return
	}
	if !c.mayManage("reseller", id) {
		writeError(w, http.StatusForbidden, "Only an admin reads the limits of another reseller.")
		return
	}
	a.mu.RLock()
	rows := a.limitRows(id)
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "results": rows})
}

func (a *GcoreAPI) limitRows(reseller string) []LimitRow {
	rows := []LimitRow{}
	for _, region := range sortedKeys(a.limits[reseller]) {
		l := a.limits[reseller][region]
		row := LimitRow{RegionID: atoi(region), ResellerID: atoi(reseller)}
		if !l.all {
			ids := slices.Clone(l.ids)
			if ids == nil {
				ids = []string{}
			}
			row.ImageIDs = &ids
		}
		rows = append(rows, row)
	}
	return rows
}

func (a *GcoreAPI) serveLimitsSet(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	var body struct {
		ImageIDs   *[]string `json:"image_ids"`
		RegionID   *int64    `json:"region_id"`
		ResellerID *int64    `json:"reseller_id"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.RegionID == nil || body.ResellerID == nil || *body.RegionID < 0 || *body.ResellerID < 0 {
		writeError(w, http.StatusBadRequest, "reseller_id and region_id are required.")
		return
	}
	reseller, region := strconv.FormatInt(*body.ResellerID, 10), strconv.FormatInt(*body.RegionID, 10)
	if !c.mayManage("reseller", reseller) {
		writeError(w, http.StatusForbidden, "Only an admin sets the limits of another reseller.")
		return
	}
	a.mu.Lock()
	a.setLimit(reseller, region, body.ImageIDs)
	rows := a.limitRows(reseller)
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "results": rows})
}

func (a *GcoreAPI) serveLimitsDelete(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	id, region := r.PathValue("reseller_id"), r.URL.Query().Get("region_id")
	if !validIDs(w, id) || (region != "" && !validIDs(w, region)) {
		return
	}
	if !c.mayManage("reseller", id) {
		writeError(w, http.StatusForbidden, "Only an admin deletes the limits of another reseller.")
		return
	}
	a.mu.Lock()
	if region == "" {
		delete(a.limits, id)
	} else {
		delete(a.limits[id], region)
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// serveShared lists (GET) or deletes (DELETE) an entity's shared images.
func (a *GcoreAPI) serveShared(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	q := r.URL.Query()
	kind, id, region := q.Get("entity_type"), q.Get("entity_id"), q.Get("region_id")
	if kind != "reseller" && kind != "client" && kind != "project" {
		writeError(w, http.StatusBadRequest, "entity_type must be reseller, client or project.")
		return
	}
	if !validIDs(w, id) || (region != "" && !validIDs(w, region)) {
		return
	}
	if !c.mayManage(kind, id) {
		writeError(w, http.StatusForbidden, "Only an admin manages the shared images of this entity.")
		return
	}
	if r.Method == http.MethodDelete {
		a.mu.Lock()
		if region == "" {
			delete(a.shared[kind], id)
		} else {
			delete(a.shared[kind][id], region)
		}
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.mu.RLock()
	rows := []SharedRow{}
	for _, reg := range sortedKeys(a.shared[kind][id]) {
		if region == "" || reg == region {
			rows = append(rows, SharedRow{EntityID: atoi(id), EntityType: kind, ImageIDs: nonNil(slices.Clone(a.shared[kind][id][reg])), RegionID: atoi(reg)})
		}
	}
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "results": rows})
}

func (a *GcoreAPI) serveSharedSet(w http.ResponseWriter, r *http.Request, c *gcoreCaller) {
	var body struct {
		EntityID   *int64    `json:"entity_id"`
		EntityType string    `json:"entity_type"`
		ImageIDs   *[]string `json:"image_ids"`
		RegionID   *int64    `json:"region_id"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.EntityType != "reseller" && body.EntityType != "client" && body.EntityType != "project" {
		writeError(w, http.StatusBadRequest, "entity_type must be reseller, client or project.")
		return
	}
	if body.EntityID == nil || body.RegionID == nil || *body.EntityID < 0 || *body.RegionID < 0 {
		writeError(w, http.StatusBadRequest, "entity_id and region_id are required.")
		return
	}
	id, region := strconv.FormatInt(*body.EntityID, 10), strconv.FormatInt(*body.RegionID, 10)
	if !c.mayManage(body.EntityType, id) {
		writeError(w, http.StatusForbidden, "Only an admin shares images with this entity.")
		return
	}
	var ids []string
	if body.ImageIDs != nil {
		ids = slices.Clone(*body.ImageIDs)
	}
	a.mu.Lock()
	a.setShared(body.EntityType, id, region, ids)
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, SharedRow{EntityID: *body.EntityID, EntityType: body.EntityType, ImageIDs: nonNil(ids), RegionID: *body.RegionID})
}

// setLimit stores a reseller_image row; ids nil is image_ids null. The caller holds a.mu.
func (a *GcoreAPI) setLimit(reseller, region string, ids *[]string) {
	if a.limits[reseller] == nil {
		a.limits[reseller] = map[string]limitEntry{}
	}
	entry := limitEntry{all: ids == nil}
	if ids != nil {
		entry.ids = slices.Clone(*ids)
	}
	a.limits[reseller][region] = entry
}

// setShared stores a shared_image row. The caller holds a.mu.
func (a *GcoreAPI) setShared(kind, id, region string, ids []string) {
	if a.shared[kind] == nil {
		a.shared[kind] = map[string]map[string][]string{}
	}
	if a.shared[kind][id] == nil {
		a.shared[kind][id] = map[string][]string{}
	}
	a.shared[kind][id][region] = ids
}

// ----------------------------------------------------------------------------------------
// Encoding and helpers

// gcoreImageDoc is the JSON document of an image.
type gcoreImageDoc struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	Architecture     string            `json:"architecture"`
	Status           string            `json:"status"`
	Visibility       string            `json:"visibility"`
	ProjectID        int64             `json:"project_id"`
	Region           string            `json:"region"`
	RegionID         int64             `json:"region_id"`
	Size             int64             `json:"size"`
	DiskFormat       string            `json:"disk_format"`
	MinDisk          int               `json:"min_disk"`
	MinRAM           int               `json:"min_ram"`
	OSDistro         string            `json:"os_distro"`
	OSType           string            `json:"os_type"`
	OSVersion        string            `json:"os_version"`
	HWFirmwareType   string            `json:"hw_firmware_type"`
	HWMachineType    string            `json:"hw_machine_type"`
	IsBaremetal      bool              `json:"is_baremetal"`
	SSHKey           string            `json:"ssh_key"`
	Metadata         map[string]string `json:"metadata"`
	MetadataDetailed []MetadataItem    `json:"metadata_detailed"`
	CreatedAt        string            `json:"created_at"`
	UpdatedAt        string            `json:"updated_at"`
}

func (img *GcoreImage) encode() json.RawMessage {
	md := make(map[string]string, len(img.Metadata))
	for _, it := range img.Metadata {
		md[it.Key] = it.Value
	}
	region := gcoreRegions[img.RegionID]
	if region == "" {
		region = "region-" + img.RegionID
	}
	b, _ := json.Marshal(gcoreImageDoc{
		ID: img.ID, Name: img.Name, Description: img.Description, Architecture: "x86_64",
		Status: img.Status, Visibility: img.Visibility, ProjectID: atoi(img.ProjectID),
		Region: region, RegionID: atoi(img.RegionID), Size: img.Size, DiskFormat: img.DiskFormat,
		MinDisk: img.MinDisk, MinRAM: img.MinRAM, OSDistro: img.OSDistro, OSType: img.OSType,
		OSVersion: img.OSVersion, HWFirmwareType: "bios", HWMachineType: "q35", SSHKey: "allow",
		Metadata: md, MetadataDetailed: nonNil(slices.Clone(img.Metadata)),
		CreatedAt: formatTime(img.CreatedAt), UpdatedAt: formatTime(img.UpdatedAt),
	})
	return b
}

func (img *GcoreImage) hasMetadata(kv map[string]string) bool {
	for k, v := range kv {
		if !slices.Contains(img.Metadata, MetadataItem{Key: k, Value: v}) &&
			!slices.Contains(img.Metadata, MetadataItem{Key: k, Value: v, ReadOnly: true}) {
			return false
		}
	}
	return true
}

// sortedImages returns the images by creation time, then id; the caller holds a.mu.
func (a *GcoreAPI) sortedImages() []*GcoreImage {
	out := make([]*GcoreImage, 0, len(a.images))
	for _, img := range a.images {
		out = append(out, img)
	}
	slices.SortFunc(out, func(x, y *GcoreImage) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// readBody decodes a JSON request body into v, answering 400 itself when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxJSONBodyBytes+1))
	if err != nil || int64(len(raw)) > MaxJSONBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		writeError(w, http.StatusBadRequest, "The request body is not valid: "+err.Error())
		return false
	}
	return true
}

// validIDs answers 400 for ids that are not numbers.
func validIDs(w http.ResponseWriter, ids ...string) bool {
	for _, id := range ids {
		if _, err := strconv.ParseUint(id, 10, 63); err != nil {
			writeError(w, http.StatusBadRequest, "Id "+strconv.Quote(id)+" is not a number.")
			return false
		}
	}
	return true
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int { return int(atoi(x) - atoi(y)) })
	return keys
}
