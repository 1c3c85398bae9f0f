package imageapi

import (
	"net/http"
)

func memberView(m *Member) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": formatTime(m.CreatedAt),
		"updated_at": formatTime(m.UpdatedAt),
		"schema":     "/v2/schemas/member",
	}
}

// visibleMember returns the membership memberID of the image if the caller
// may see it: admins and the owner see every member, a member only itself
// (Glance filters image_member_find this way). The caller holds a.mu.
func (a *API) visibleMember(c *caller, img *Image, memberID string) (*Member, bool) {
	m, ok := a.members[img.ID][memberID]
	if !ok {
		return nil, false
	}
	if c.naive || c.admin || c.owns(img) || (c.project != "" && memberID == c.project) {
		return m, true
	}
	return nil, false
}

func (a *API) serveListMembers(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	a.mu.RLock()
	defer a.mu.RUnlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := &rec.img
	if img.Visibility != VisibilityShared {
		writeAPIError(w, forbidden("Not allowed to list members for image %s: Only shared images have members.", id))
		return
	}
	if !a.canGetMembers(c, img) {
		writeAPIError(w, policyDenied("get_members"))
		return
	}
	views := make([]map[string]any, 0, len(a.members[id]))
	for _, m := range a.sortedMembers(id) {
		if vm, ok := a.visibleMember(c, img, m.MemberID); ok {
			views = append(views, memberView(vm))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": views, "schema": "/v2/schemas/members"})
}

func (a *API) serveCreateMember(w http.ResponseWriter, r *http.Request, c *caller) {
	body, e := readJSONObject(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	raw, ok := body["member"]
	if !ok {
		writeAPIError(w, badRequest("Member to be added not specified"))
		return
	}
	memberID, ok := raw.(string)
	if !ok {
		writeAPIError(w, badRequest("Expected a member in the form: {\"member\": \"image_id\"}"))
		return
	}
	if memberID == "" {
		writeAPIError(w, badRequest("Member can't be empty"))
		return
	}
	if len(memberID) > 255 {
		writeAPIError(w, badRequest("Member id is longer than 255 characters."))
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
	if img.Visibility != VisibilityShared {
		writeAPIError(w, forbidden("Not allowed to create members for image %s: Only shared images have members.", id))
		return
	}
	if !c.canModify(img) {
		writeAPIError(w, policyDenied("add_member"))
		return
	}
	if _, dup := a.members[id][memberID]; dup {
		writeAPIError(w, conflict("Member %s is duplicated for image %s", memberID, id))
		return
	}
	if len(a.members[id]) >= MaxMembersPerImage {
		writeAPIError(w, tooLarge("Image member limit exceeded for image %s: %d members allowed.", id, MaxMembersPerImage))
		return
	}
	now := a.timestamp()
	m := &Member{ImageID: id, MemberID: memberID, Status: MemberPending, CreatedAt: now, UpdatedAt: now}
	if a.members[id] == nil {
		a.members[id] = make(map[string]*Member)
	}
	a.members[id][memberID] = m
	writeJSON(w, http.StatusOK, memberView(m))
}

func (a *API) serveGetMember(w http.ResponseWriter, r *http.Request, c *caller) {
	id, memberID := r.PathValue("id"), r.PathValue("member_id")
	a.mu.RLock()
	defer a.mu.RUnlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := &rec.img
	// Glance turns every refusal here into 404.
	if img.Visibility != VisibilityShared || !a.canGetMembers(c, img) {
		writeAPIError(w, notFound("%s not found in the member list of the image %s.", memberID, id))
		return
	}
	m, ok := a.visibleMember(c, img, memberID)
	if !ok {
		writeAPIError(w, notFound("%s not found in the member list of the image %s.", memberID, id))
		return
	}
	writeJSON(w, http.StatusOK, memberView(m))
}

func (a *API) serveUpdateMember(w http.ResponseWriter, r *http.Request, c *caller) {
	body, e := readJSONObject(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	rawStatus, ok := body["status"]
	if !ok {
		writeAPIError(w, badRequest("Status not specified"))
		return
	}

	id, memberID := r.PathValue("id"), r.PathValue("member_id")
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := &rec.img
	if img.Visibility != VisibilityShared {
		writeAPIError(w, forbidden("Not allowed to update members for image %s: Only shared images have members.", id))
		return
	}
	if !a.canGetMembers(c, img) {
		writeAPIError(w, forbidden("You are not authorized to lookup the members of the image %s.", id))
		return
	}
	m, ok := a.visibleMember(c, img, memberID)
	if !ok {
		writeAPIError(w, notFound("%s not found in the member list of the image %s.", memberID, id))
		return
	}
	if !a.canModifyMember(c, img) {
		writeAPIError(w, forbidden("Not allowed to update members for image %s.", id))
		return
	}
	status, _ := rawStatus.(string)
	switch status {
	case MemberPending, MemberAccepted, MemberRejected:
	default:
		writeAPIError(w, badRequest("Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\"."))
		return
	}
	m.Status = status
	m.UpdatedAt = a.timestamp()
	writeJSON(w, http.StatusOK, memberView(m))
}

func (a *API) serveDeleteMember(w http.ResponseWriter, r *http.Request, c *caller) {
	id, memberID := r.PathValue("id"), r.PathValue("member_id")
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, e := a.lookup(c, id)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	img := &rec.img
	if img.Visibility != VisibilityShared {
		writeAPIError(w, forbidden("Not allowed to delete members for image %s: Only shared images have members.", id))
		return
	}
	if !a.canGetMembers(c, img) {
		writeAPIError(w, forbidden("You are not authorized to lookup the members of the image %s.", id))
		return
	}
	if _, ok := a.visibleMember(c, img, memberID); !ok {
		writeAPIError(w, notFound("%s not found in the member list of the image %s.", memberID, id))
		return
	}
	if !c.canModify(img) {
		writeAPIError(w, forbidden("Not allowed to delete members for image %s.", id))
		return
	}
	delete(a.members[id], memberID)
	if len(a.members[id]) == 0 {
		delete(a.members, id)
	}
	w.WriteHeader(http.StatusNoContent)
}
