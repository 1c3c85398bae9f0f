package imageapi

import (
	"net/http"
	"slices"
)

// serveAddTag adds a tag: PUT /v2/images/{id}/tags/{tag} → 204 (also when
// the tag is already there).
func (a *API) serveAddTag(w http.ResponseWriter, r *http.Request, c *caller) {
	id, tag := r.PathValue("id"), r.PathValue("tag")
	if len(tag) > 255 {
		writeAPIError(w, badRequest("Provided object does not match schema 'image': tag is longer than 255 characters."))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !c.canModify(&rec.img) {
		writeAPIError(w, policyDenied("modify_image"))
		return
	}
	if !rec.img.hasTag(tag) {
		if len(rec.img.Tags) >= MaxTagsPerImage {
			writeAPIError(w, tooLarge("Maximum number of tags exceeded: %d allowed.", MaxTagsPerImage))
			return
		}
		rec.img.Tags = append(rec.img.Tags, tag)
		rec.img.UpdatedAt = a.timestamp()
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveDeleteTag removes a tag: DELETE /v2/images/{id}/tags/{tag} → 204, or
// 404 when the image does not carry it.
func (a *API) serveDeleteTag(w http.ResponseWriter, r *http.Request, c *caller) {
	id, tag := r.PathValue("id"), r.PathValue("tag")
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !c.canModify(&rec.img) {
		writeAPIError(w, policyDenied("modify_image"))
		return
	}
	i := slices.Index(rec.img.Tags, tag)
	if i < 0 {
		writeAPIError(w, notFound("Tag %s not found", tag))
		return
	}
	rec.img.Tags = slices.Delete(slices.Clone(rec.img.Tags), i, i+1)
	rec.img.UpdatedAt = a.timestamp()
	w.WriteHeader(http.StatusNoContent)
}
