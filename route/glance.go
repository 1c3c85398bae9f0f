package route

import "net/http"

// NewGlance returns the router for the OpenStack Glance v2 image API (dialect "glance"),
// which Rackspace Cloud Images v2 shares. Operation names are the stable names policies
// are written against; see glanceRoutes for the table.
//
// HEAD and OPTIONS are not routed (405): Glance v2 clients do not need them.
func NewGlance() *Router {
	r, err := NewRouter(DialectGlance, glanceRoutes(), glanceParams())
	if err != nil {
		// The table is a constant of the program, covered by tests: this is a bug.
		panic(err)
	}
	return r
}

// glanceRoutes returns a fresh copy of the Glance v2 route table.
func glanceRoutes() []RouteInfo {
	const (
		get   = http.MethodGet
		post  = http.MethodPost
		put   = http.MethodPut
		patch = http.MethodPatch
		del   = http.MethodDelete
	)
	return []RouteInfo{
		{get, "/", "versions.list", BodyNone, false},
		{get, "/versions", "versions.list", BodyNone, false},

		{get, "/v2/images", "images.list", BodyNone, false},
		{post, "/v2/images", "images.create", BodyJSON, false},
		{get, "/v2/images/{image_id}", "images.get", BodyNone, false},
		{patch, "/v2/images/{image_id}", "images.update", BodyPatch, false},
		{del, "/v2/images/{image_id}", "images.delete", BodyNone, false},
		{put, "/v2/images/{image_id}/file", "images.upload", BodyData, false},
		{get, "/v2/images/{image_id}/file", "images.download", BodyNone, false},
		{put, "/v2/images/{image_id}/stage", "images.stage", BodyData, false},
		{post, "/v2/images/{image_id}/import", "images.import", BodyJSON, false},
		{post, "/v2/images/{image_id}/actions/deactivate", "images.deactivate", BodyNone, false},
		{post, "/v2/images/{image_id}/actions/reactivate", "images.reactivate", BodyNone, false},
		{get, "/v2/images/{image_id}/tasks", "images.tasks", BodyNone, false},

		{put, "/v2/images/{image_id}/tags/{tag}", "tags.add", BodyNone, false},
		{del, "/v2/images/{image_id}/tags/{tag}", "tags.delete", BodyNone, false},

		{get, "/v2/images/{image_id}/members", "members.list", BodyNone, false},
		{post, "/v2/images/{image_id}/members", "members.create", BodyJSON, false},
		{get, "/v2/images/{image_id}/members/{member_id}", "members.get", BodyNone, false},
		{put, "/v2/images/{image_id}/members/{member_id}", "members.update", BodyJSON, false},
		{del, "/v2/images/{image_id}/members/{member_id}", "members.delete", BodyNone, false},

		{get, "/v2/tasks", "tasks.list", BodyNone, false},
		{post, "/v2/tasks", "tasks.create", BodyJSON, false},
		{get, "/v2/tasks/{task_id}", "tasks.get", BodyNone, false},

		{get, "/v2/schemas/{schema}", "schemas.get", BodyNone, false},

		{get, "/v2/info/import", "info.import", BodyNone, false},
		{get, "/v2/info/stores", "info.stores", BodyNone, false},
	}
}

// glanceSchemas lists the schema documents Glance v2 serves under /v2/schemas/; any other
// name is not_found rather than forwarded.
func glanceSchemas() []string {
	return []string{"image", "images", "member", "members", "task", "tasks"}
}

// glanceParams returns the parameter rules of the Glance table. Ids are checked loosely
// (Glance image and task ids are UUIDs, member ids are project ids of any shape): the
// point is bounded, printable values, not second-guessing the upstream.
func glanceParams() map[string]ParamRule {
	return map[string]ParamRule{
		"image_id":  {MaxLen: 255},
		"task_id":   {MaxLen: 255},
		"member_id": {MaxLen: 255},
		"tag":       {MaxLen: 255},
		"schema":    {OneOf: glanceSchemas()},
	}
}
