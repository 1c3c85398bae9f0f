package imageapi

import (
	"net/http"
	"strings"
)

// caller is the identity a request carries in the headers Glance trusts.
type caller struct {
	project string // X-Project-Id, else X-Tenant-Id, else X-Tenant
	user    string // X-User-Id, else X-User
	roles   []string
	admin   bool
	member  bool
	reader  bool
	// scoped is set when the request carries domain or system scope
	// (X-Domain-Id, OpenStack-System-Scope): Glance then refuses everything.
	scoped bool
	// naive is set in Naive mode: every check passes.
	naive bool
}

func (a *API) callerFrom(r *http.Request) *caller {
	h := r.Header
	c := &caller{naive: a.mode == Naive}
	c.project = firstHeader(h, "X-Project-Id", "X-Tenant-Id", "X-Tenant")
	c.user = firstHeader(h, "X-User-Id", "X-User")
	if roles := h.Get("X-Roles"); roles != "" {
		for _, role := range strings.Split(roles, ",") {
			role = strings.ToLower(strings.TrimSpace(role))
			if role == "" {
				continue
			}
			c.roles = append(c.roles, role)
			switch role {
			case "admin":
				c.admin = true
			case "member":
				c.member = true
			case "reader":
				c.reader = true
			}
		}
	}
	c.scoped = h.Get("X-Domain-Id") != "" || h.Get("OpenStack-System-Scope") != ""
	return c
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// owns reports whether the caller's project owns img.
func (c *caller) owns(img *Image) bool {
	return c.project != "" && img.Owner == c.project
}

// canSee reports whether the image exists for the caller: Glance's
// is_image_visible (DB layer) and the get_image policy together. Invisible
// images answer 404 on every path under them.
func (a *API) canSee(c *caller, rec *imageRecord) bool {
	if c.naive || c.admin {
		return true
	}
	if !c.reader {
		// get_image needs reader; Glance turns that refusal into 404.
		return false
	}
	img := &rec.img
	switch {
	case img.Owner == "":
		return true
	case img.Visibility == VisibilityPublic || img.Visibility == VisibilityCommunity:
		return true
	case c.owns(img):
		return true
	case img.Visibility == VisibilityShared && c.project != "":
		_, ok := a.members[img.ID][c.project]
		return ok
	}
	return false
}

// canModify is Glance's ADMIN_OR_PROJECT_MEMBER on an image: modify_image,
// delete_image, upload_image, add_member, delete_member, deactivate,
// reactivate and communitize_image.
func (c *caller) canModify(img *Image) bool {
	return c.naive || c.admin || (c.member && c.owns(img))
}

// canDownload is download_image: member (not only reader) on a visible image.
func (c *caller) canDownload() bool {
	return c.naive || c.admin || c.member
}

// canPublicize is publicize_image: admin only.
func (c *caller) canPublicize() bool {
	return c.naive || c.admin
}

// canChangeVisibility applies publicize_image and communitize_image to a
// requested visibility.
func (c *caller) canChangeVisibility(img *Image, visibility string) bool {
	switch visibility {
	case VisibilityPublic:
		return c.canPublicize()
	case VisibilityCommunity:
		return c.canModify(img)
	}
	return true
}

// isSharedMember reports whether the caller is a member of a shared image it
// does not own (Glance sets the image's member_id to the caller's project in
// exactly that case).
func (a *API) isSharedMember(c *caller, img *Image) bool {
	if img.Visibility != VisibilityShared || c.project == "" || img.Owner == c.project {
		return false
	}
	_, ok := a.members[img.ID][c.project]
	return ok
}

// canGetMembers is get_members / get_member:
// admin or reader and (owner or that member).
func (a *API) canGetMembers(c *caller, img *Image) bool {
	return c.naive || c.admin || (c.reader && (c.owns(img) || a.isSharedMember(c, img)))
}

// canModifyMember is modify_member: admin or member and project = member_id.
func (a *API) canModifyMember(c *caller, img *Image) bool {
	return c.naive || c.admin || (c.member && a.isSharedMember(c, img))
}

// canUseTasks is tasks_api_access: admin only.
func (c *caller) canUseTasks() bool {
	return c.naive || c.admin
}

// canList is get_images: admin or reader in the project.
func (c *caller) canList() bool {
	return c.naive || c.admin || c.reader
}
