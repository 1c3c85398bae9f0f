package route

import "net/http"

// GcorePrefix is the optional path prefix of the Gcore-style v1 dialect: Gcore's newer
// SDK sends "/cloud/v1/…" where the older one sends "/v1/…". Both spellings are routed to
// the same operations and forwarded unchanged, so the upstream decides which it serves.
const GcorePrefix = "/cloud"

// NewGcore returns the router for the Gcore-style cloud images v1 API (dialect "gcore"):
// images scoped by project and region in the path, their metadata, and the reseller
// image limits and shared images (API-NOTES §B). Every route is also served under
// GcorePrefix. The canonical-path rules are those of every dialect (CanonicalPath).
func NewGcore() *Router {
	r, err := NewRouter(DialectGcore, gcoreRoutes(), gcoreParams())
	if err != nil {
		// The table is a constant of the program, covered by tests: this is a bug.
		panic(err)
	}
	return r
}

// gcoreRoutes returns a fresh copy of the v1 route table, each route twice: as the API
// documents it and under GcorePrefix.
func gcoreRoutes() []RouteInfo {
	const (
		get   = http.MethodGet
		post  = http.MethodPost
		put   = http.MethodPut
		patch = http.MethodPatch
		del   = http.MethodDelete
	)
	const (
		images = "/v1/images/{project_id}/{region_id}"
		image  = images + "/{image_id}"
	)
	table := []RouteInfo{
		{get, images, "images.list", BodyNone, false},
		{post, images, "images.create", BodyJSON, false},
		{get, "/v1/projectimages/{project_id}/{region_id}", "projectimages.list", BodyNone, false},
		{get, image, "images.get", BodyNone, false},
		{patch, image, "images.update", BodyJSON, false},
		{del, image, "images.delete", BodyNone, false},

		{get, image + "/metadata", "metadata.list", BodyNone, false},
		{post, image + "/metadata", "metadata.create", BodyJSON, false},
		{put, image + "/metadata", "metadata.replace", BodyJSON, false},
		{get, image + "/metadata_item", "metadata_item.get", BodyNone, false},
		{del, image + "/metadata_item", "metadata_item.delete", BodyNone, false},

		{get, "/v1/reseller_image/{reseller_id}", "reseller_image.get", BodyNone, true},
		{put, "/v1/reseller_image", "reseller_image.set", BodyJSON, true},
		{del, "/v1/reseller_image/{reseller_id}", "reseller_image.delete", BodyNone, true},

		{get, "/v1/shared_image", "shared_image.list", BodyNone, false},
		{put, "/v1/shared_image", "shared_image.set", BodyJSON, false},
		{del, "/v1/shared_image", "shared_image.delete", BodyNone, false},
	}
	prefixed := make([]RouteInfo, len(table))
	for i, ri := range table {
		ri.Pattern = GcorePrefix + ri.Pattern
		prefixed[i] = ri
	}
	return append(table, prefixed...)
}

// gcoreParams returns the parameter rules of the v1 table. Project, region and reseller
// ids are numbers in this API; the policy refuses other values with a reason (400), so
// the router only bounds their length.
func gcoreParams() map[string]ParamRule {
	return map[string]ParamRule{
		"project_id":  {MaxLen: 20},
		"region_id":   {MaxLen: 20},
		"reseller_id": {MaxLen: 20},
		"image_id":    {MaxLen: 255},
	}
}
