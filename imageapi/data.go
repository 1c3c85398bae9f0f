package imageapi

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"time"
)

// checkOctetStream refuses data requests whose Content-Type is not
// application/octet-stream (Glance answers 415, also when it is missing).
func checkOctetStream(r *http.Request) *apiError {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/octet-stream" {
		if ct == "" {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type is required: application/octet-stream.")
		}
		return errorf(http.StatusUnsupportedMediaType, "Invalid content type %s", mt)
	}
	return nil
}

// digests are the checksums Glance computes while storing data.
type digests struct {
	size     int64
	checksum string // md5, hex
	hash     string // sha512, hex
}

func digestOf(data []byte) digests {
	m := md5.Sum(data)
	s := sha512.Sum512(data)
	return digests{size: int64(len(data)), checksum: hex.EncodeToString(m[:]), hash: hex.EncodeToString(s[:])}
}

// readData reads a request body into memory, chunk by chunk, up to
// a.maxBytes, computing the digests as it goes. Over the cap it answers 413.
func (a *API) readData(r *http.Request) ([]byte, digests, *apiError) {
	if r.ContentLength > a.maxBytes {
		return nil, digests{}, tooLarge("The incoming image is too large: %d bytes, at most %d are accepted.", r.ContentLength, a.maxBytes)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	md := md5.New()
	sh := sha512.New()
	n, err := io.Copy(io.MultiWriter(&buf, md, sh), io.LimitReader(r.Body, a.maxBytes+1))
	if err != nil {
		return nil, digests{}, badRequest("Error reading image data: %v", err)
	}
	if n > a.maxBytes {
		return nil, digests{}, tooLarge("The incoming image is too large: more than %d bytes.", a.maxBytes)
	}
	return buf.Bytes(), digests{size: n, checksum: hex.EncodeToString(md.Sum(nil)), hash: hex.EncodeToString(sh.Sum(nil))}, nil
}

// beginWrite checks that the caller may put data into the image and moves
// it from queued to status (saving or uploading).
func (a *API) beginWrite(c *caller, id, status, rule string) *apiError {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		return e
	}
	if !c.canModify(&rec.img) {
		return policyDenied(rule)
	}
	img := &rec.img
	if img.Status != StatusQueued {
		return conflict("Image status transition from %s to %s is not allowed", img.Status, status)
	}
	if status == StatusSaving {
		if e := formatsSet(img, "saving data"); e != nil {
			return e
		}
	}
	img.Status = status
	img.UpdatedAt = a.timestamp()
	return nil
}

// formatsSet enforces that disk and container formats exist before data do.
func formatsSet(img *Image, what string) *apiError {
	switch {
	case img.DiskFormat == "" && img.ContainerFormat == "":
		return badRequest("Properties disk_format, container_format must be set prior to %s.", what)
	case img.DiskFormat == "":
		return badRequest("Property disk_format must be set prior to %s.", what)
	case img.ContainerFormat == "":
		return badRequest("Property container_format must be set prior to %s.", what)
	}
	return nil
}

// restoreQueued puts an image whose write failed back to queued.
func (a *API) restoreQueued(id, from string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec, ok := a.images[id]; ok && rec.img.Status == from {
		rec.img.Status = StatusQueued
		rec.img.Size = nil // Glance clears the size of queued images
		rec.staged = nil
		rec.img.UpdatedAt = a.timestamp()
	}
}

// serveUpload stores image data: PUT /v2/images/{id}/file → 204, the image
// becomes active with size, checksum and os_hash_value set.
func (a *API) serveUpload(w http.ResponseWriter, r *http.Request, c *caller) {
	if e := checkOctetStream(r); e != nil {
		writeAPIError(w, e)
		return
	}
	id := r.PathValue("id")
	if e := a.beginWrite(c, id, StatusSaving, "upload_image"); e != nil {
		writeAPIError(w, e)
		return
	}
	data, d, e := a.readData(r)
	if e != nil {
		a.restoreQueued(id, StatusSaving)
		writeAPIError(w, e)
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.images[id]
	if !ok {
		writeAPIError(w, errorf(http.StatusGone, "Image %s could not be found after upload. The image may have been deleted during the upload.", id))
		return
	}
	setData(rec, data, d, a.timestamp())
	w.WriteHeader(http.StatusNoContent)
}

// setData makes data the image's content and the image active.
func setData(rec *imageRecord, data []byte, d digests, now time.Time) {
	size := d.size
	rec.data = data
	rec.staged = nil
	rec.img.Size = &size
	rec.img.Checksum = d.checksum
	rec.img.OSHashAlgo = "sha512"
	rec.img.OSHashValue = d.hash
	rec.img.Status = StatusActive
	rec.img.UpdatedAt = now
}

// serveDownload streams image data: GET /v2/images/{id}/file, with Range
// support (206) through http.ServeContent; 204 when the image has no data.
func (a *API) serveDownload(w http.ResponseWriter, r *http.Request, c *caller) {
	a.mu.RLock()
	rec, e := a.lookup(c, r.PathValue("id"))
	if e != nil {
		a.mu.RUnlock()
		writeAPIError(w, e)
		return
	}
	if rec.img.Status == StatusDeactivated && !c.naive && !c.admin {
		a.mu.RUnlock()
		writeAPIError(w, forbidden("The requested image has been deactivated. Image data download is forbidden."))
		return
	}
	if !c.canDownload() {
		a.mu.RUnlock()
		writeAPIError(w, policyDenied("download_image"))
		return
	}
	data, checksum := rec.data, rec.img.Checksum
	a.mu.RUnlock()

	if data == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if checksum != "" {
		h.Set("Content-MD5", checksum)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// serveStage stores data for a later glance-direct import:
// PUT /v2/images/{id}/stage → 204, the image becomes uploading.
func (a *API) serveStage(w http.ResponseWriter, r *http.Request, c *caller) {
	if e := checkOctetStream(r); e != nil {
		writeAPIError(w, e)
		return
	}
	id := r.PathValue("id")
	if e := a.beginWrite(c, id, StatusUploading, "modify_image"); e != nil {
		writeAPIError(w, e)
		return
	}
	data, _, e := a.readData(r)
	if e != nil {
		a.restoreQueued(id, StatusUploading)
		writeAPIError(w, e)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.images[id]
	if !ok {
		writeAPIError(w, errorf(http.StatusGone, "Image %s could not be found after staging.", id))
		return
	}
	size := int64(len(data))
	rec.staged = data
	rec.img.Size = &size // Glance shows the staged size while uploading
	rec.img.UpdatedAt = a.timestamp()
	w.WriteHeader(http.StatusNoContent)
}

// serveImport runs an interoperable import: POST /v2/images/{id}/import with
// {"method": {"name": "glance-direct"}} moves the staged data into the image
// (synchronously here) and records a successful api_image_import task;
// copy-image is accepted on active images (admin only) and does nothing in
// a single store. Answers 202.
func (a *API) serveImport(w http.ResponseWriter, r *http.Request, c *caller) {
	body, e := readJSONObject(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	method, e := importMethodOf(body)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	id := r.PathValue("id")

	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := &rec.img
	if method == "copy-image" {
		if !c.canPublicize() { // copy_image is admin only
			writeAPIError(w, policyDenied("copy_image"))
			return
		}
	} else if !c.canModify(img) {
		writeAPIError(w, policyDenied("modify_image"))
		return
	}
	switch {
	case img.Status == StatusActive && method != "copy-image":
		writeAPIError(w, conflict("Image with status active cannot be target for import"))
		return
	case img.Status != StatusActive && method == "copy-image":
		writeAPIError(w, conflict("Only images with status active can be targeted for copying"))
		return
	case method == "glance-direct" && (img.Status != StatusUploading || rec.staged == nil):
		writeAPIError(w, conflict("Image needs to be staged before 'glance-direct' method can be used"))
		return
	case img.ContainerFormat == "":
		writeAPIError(w, conflict("'container_format' needs to be set before import"))
		return
	case img.DiskFormat == "":
		writeAPIError(w, conflict("'disk_format' needs to be set before import"))
		return
	}

	now := a.timestamp()
	if method == "glance-direct" {
		setData(rec, rec.staged, digestOf(rec.staged), now)
	}
	// What a finished import leaves on the image in Glance 25.
	if img.Properties == nil {
		img.Properties = make(map[string]string)
	}
	img.Properties["os_glance_importing_to_stores"] = ""
	img.Properties["os_glance_failed_import"] = ""
	task := &Task{
		ID:        newUUID(),
		Type:      "api_image_import",
		Status:    "success",
		Owner:     c.project,
		ImageID:   id,
		UserID:    c.user,
		RequestID: w.Header().Get("X-Openstack-Request-Id"),
		Input: map[string]any{
			"image_id":   id,
			"import_req": body,
			"backend":    []any{nil},
		},
		Result:    map[string]any{"image_id": id},
		CreatedAt: now,
		UpdatedAt: now,
	}
	expires := now.Add(48 * time.Hour)
	task.ExpiresAt = &expires
	a.tasks[task.ID] = task
	w.WriteHeader(http.StatusAccepted)
}

// importMethodOf validates an import body and returns the method name.
func importMethodOf(body map[string]any) (string, *apiError) {
	rawMethod, ok := body["method"]
	if !ok {
		return "", badRequest("Import request requires a 'method' field.")
	}
	method, ok := rawMethod.(map[string]any)
	if !ok {
		return "", badRequest("Import request requires a 'name' field.")
	}
	rawName, ok := method["name"]
	if !ok {
		return "", badRequest("Import request requires a 'name' field.")
	}
	name, _ := rawName.(string)
	for _, m := range importMethods {
		if m == name {
			return name, nil
		}
	}
	return "", badRequest("Import method name '%v' is not valid.", rawName)
}
