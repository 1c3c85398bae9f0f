package imageapi

import (
	"net/http"
	"sort"
	"strings"
)

// importMethods are the enabled import methods (Glance's
// enabled_import_methods in the deployment imagegate tests against).
var importMethods = []string{"glance-direct", "copy-image"}

// lookup returns the image if it exists for the caller, else 404. The
// caller holds a.mu.
func (a *API) lookup(c *caller, id string) (*imageRecord, *apiError) {
	rec, ok := a.images[id]
	if !ok || !a.canSee(c, rec) {
		return nil, notFound("No image found with ID %s", id)
	}
	return rec, nil
}

func policyDenied(rule string) *apiError {
	return forbidden("Policy doesn't allow %s to be performed.", rule)
}

// absoluteURL builds an absolute URL from the Host header, as Glance does.
func absoluteURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

func (a *API) serveGetImage(w http.ResponseWriter, r *http.Request, c *caller) {
	a.mu.RLock()
	rec, e := a.lookup(c, r.PathValue("id"))
	if e != nil {
		a.mu.RUnlock()
		writeAPIError(w, e)
		return
	}
	doc := imageJSON(&rec.img)
	a.mu.RUnlock()
	writeRawJSON(w, http.StatusOK, doc)
}

func (a *API) serveCreateImage(w http.ResponseWriter, r *http.Request, c *caller) {
	body, e := readJSONObject(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img, e := a.newImageFromBody(c, body)
	if e != nil {
		writeAPIError(w, e)
		return
	}

	a.mu.Lock()
	if img.ID == "" {
		img.ID = newUUID()
	} else if _, dup := a.images[img.ID]; dup {
		a.mu.Unlock()
		writeAPIError(w, conflict("Image with identifier %s already exists!", img.ID))
		return
	}
	now := a.timestamp()
	img.CreatedAt, img.UpdatedAt = now, now
	a.images[img.ID] = &imageRecord{img: img}
	doc := imageJSON(&img)
	a.mu.Unlock()

	w.Header().Set("Location", absoluteURL(r, "/v2/images/"+img.ID))
	w.Header().Set("OpenStack-image-import-methods", strings.Join(importMethods, ","))
	writeRawJSON(w, http.StatusCreated, doc)
}

// newImageFromBody validates a create body like Glance's deserializer,
// image factory and add_image policy, and returns the new image without id
// (unless the body chose one) and timestamps.
func (a *API) newImageFromBody(c *caller, body map[string]any) (Image, *apiError) {
	for _, k := range disallowedOnCreate {
		if _, ok := body[k]; ok {
			return Image{}, forbidden("Attribute '%s' is read-only.", k)
		}
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if e := validateValue(k, body[k]); e != nil {
			return Image{}, e
		}
	}
	img := Image{Status: StatusQueued, Visibility: VisibilityShared}
	for _, k := range keys {
		v := body[k]
		switch {
		case k == "id":
			img.ID = v.(string)
		case k == "locations":
			return Image{}, forbidden("It's not allowed to add locations if locations are invisible.")
		case readOnlyProperties[k]:
			return Image{}, forbidden("Attribute '%s' is read-only.", k)
		case coreProperties[k]:
			if e := setCore(&img, k, v); e != nil {
				return Image{}, e
			}
		default:
			if len(k) > 255 {
				return Image{}, badRequest("Custom property should not be greater than 255 characters.")
			}
			if isReserved(k) {
				return Image{}, forbidden("Attribute '%s' is reserved.", k)
			}
			if img.Properties == nil {
				img.Properties = make(map[string]string)
			}
			img.Properties[k] = v.(string)
		}
	}

	_, ownerGiven := body["owner"]
	if !ownerGiven {
		img.Owner = c.project
	}
	if c.naive {
		return img, nil
	}
	// add_image: admin or (member and project_id == owner).
	if !c.admin && !(c.member && c.project != "" && img.Owner == c.project) {
		if img.Owner != c.project {
			return Image{}, forbidden("You are not permitted to create images owned by '%s'.", img.Owner)
		}
		return Image{}, policyDenied("add_image")
	}
	switch img.Visibility {
	case VisibilityPublic:
		if !c.canPublicize() {
			return Image{}, policyDenied("publicize_image")
		}
	case VisibilityCommunity:
		if !c.canModify(&img) {
			return Image{}, policyDenied("communitize_image")
		}
	}
	return img, nil
}

func (a *API) serveDeleteImage(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !c.canModify(&rec.img) {
		writeAPIError(w, policyDenied("delete_image"))
		return
	}
	if rec.img.Protected {
		writeAPIError(w, forbidden("Image %s is protected and cannot be deleted.", id))
		return
	}
	delete(a.images, id)
	delete(a.members, id)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) serveUpdateImage(w http.ResponseWriter, r *http.Request, c *caller) {
	ops, e := parsePatch(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, r.PathValue("id"))
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := rec.img.clone()
	for _, op := range ops {
		if e := a.applyPatch(c, &img, op); e != nil {
			writeAPIError(w, e)
			return
		}
	}
	if len(ops) > 0 {
		img.UpdatedAt = a.timestamp()
		rec.img = img
	}
	writeRawJSON(w, http.StatusOK, imageJSON(&rec.img))
}

func (a *API) serveDeactivate(w http.ResponseWriter, r *http.Request, c *caller) {
	a.changeActivation(w, r, c, StatusActive, StatusDeactivated, "deactivate")
}

func (a *API) serveReactivate(w http.ResponseWriter, r *http.Request, c *caller) {
	a.changeActivation(w, r, c, StatusDeactivated, StatusActive, "reactivate")
}

// changeActivation moves an image from status from to status to; an image
// already in status to is left alone (Glance's no-op), any other status is
// refused with 403.
func (a *API) changeActivation(w http.ResponseWriter, r *http.Request, c *caller, from, to, rule string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, r.PathValue("id"))
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !c.canModify(&rec.img) {
		writeAPIError(w, policyDenied(rule))
		return
	}
	switch rec.img.Status {
	case to:
	case from:
		rec.img.Status = to
		rec.img.UpdatedAt = a.timestamp()
	default:
		writeAPIError(w, forbidden("Not allowed to %s image in status '%s'", rule, rec.img.Status))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveImageTasks lists the tasks about one image (GET /v2/images/{id}/tasks):
// the image must be visible, and only the caller's own tasks are shown
// (all of them to admins).
func (a *API) serveImageTasks(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, e := a.lookup(c, id); e != nil {
		writeAPIError(w, e)
		return
	}
	tasks := make([]*Task, 0)
	for _, t := range a.tasks {
		if t.ImageID == id && (c.naive || c.admin || (c.project != "" && t.Owner == c.project)) {
			tasks = append(tasks, t)
		}
	}
	sortTasks(tasks)
	views := make([]map[string]any, len(tasks))
	for i, t := range tasks {
		views[i] = imageTaskView(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": views})
}
