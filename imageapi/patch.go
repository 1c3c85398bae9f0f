package imageapi

import (
	"mime"
	"net/http"
	"regexp"
	"strings"
)

// PATCH media types. v2.1 is JSON-patch-like ({"op", "path", "value"});
// v2.0 (deprecated) names the operation as the key ({"replace": "/name",
// "value": ...}).
const (
	PatchMediaType21 = "application/openstack-images-v2.1-json-patch"
	PatchMediaType20 = "application/openstack-images-v2.0-json-patch"
)

var patchOps = []string{"add", "remove", "replace"}

// patchOp is one parsed change of a PATCH request.
type patchOp struct {
	op    string
	path  []string // decoded JSON pointer tokens
	value any
	// draft4 is set for the v2.0 media type: "add" of an existing
	// property is then a conflict.
	draft4 bool
}

var adjacentSlashes = regexp.MustCompile(`/\s*/`)
var badTilde = regexp.MustCompile(`~[^01]`)

// parsePatch reads and validates a PATCH body like Glance's deserializer:
// 415 for other media types, 400 for malformed changes, 403 for read-only
// and reserved properties. It runs before the image is looked up.
func parsePatch(w http.ResponseWriter, r *http.Request) ([]patchOp, *apiError) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != PatchMediaType21 && mt != PatchMediaType20 {
		w.Header().Set("Accept-Patch", PatchMediaType20+", "+PatchMediaType21)
		return nil, errorf(http.StatusUnsupportedMediaType,
			"The request media type %q is not supported; use %s.", mt, PatchMediaType21)
	}
	draft4 := mt == PatchMediaType20
	body, e := readJSON(w, r)
	if e != nil {
		return nil, e
	}
	list, ok := body.([]any)
	if !ok {
		return nil, badRequest("Request body must be a JSON array of operation objects.")
	}
	ops := make([]patchOp, 0, len(list))
	for _, raw := range list {
		change, ok := raw.(map[string]any)
		if !ok {
			return nil, badRequest("Operations must be JSON objects.")
		}
		op, pointer, e := changeOperation(change, draft4)
		if e != nil {
			return nil, e
		}
		path, e := decodePointer(pointer)
		if e != nil {
			return nil, e
		}
		depth := 1
		if path[0] == "locations" && op != "replace" {
			depth = 2
		}
		if len(path) != depth {
			return nil, badRequest("Invalid JSON pointer for this resource: '/%s'", strings.Join(path, "/"))
		}
		p := patchOp{op: op, path: path, draft4: draft4}
		if op != "remove" {
			v, ok := change["value"]
			if !ok {
				return nil, badRequest("Operation \"%s\" requires a member named \"value\".", op)
			}
			p.value = v
		}
		if e := validateChange(p); e != nil {
			return nil, e
		}
		ops = append(ops, p)
	}
	return ops, nil
}

// changeOperation extracts the operation and the JSON pointer of a change.
func changeOperation(change map[string]any, draft4 bool) (op, pointer string, e *apiError) {
	if draft4 {
		for _, name := range patchOps {
			if _, ok := change[name]; ok {
				if op != "" {
					return "", "", badRequest("Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".")
				}
				op = name
			}
		}
		if op == "" {
			return "", "", badRequest("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".")
		}
		pointer, ok := change[op].(string)
		if !ok {
			return "", "", badRequest("Pointer of operation %q must be a string.", op)
		}
		return op, pointer, nil
	}
	rawOp, ok := change["op"]
	if !ok {
		return "", "", badRequest("Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.")
	}
	op, _ = rawOp.(string)
	if op != "add" && op != "remove" && op != "replace" {
		return "", "", badRequest("Invalid operation: `%v`. It must be one of the following: add, remove, replace.", rawOp)
	}
	rawPath, ok := change["path"]
	if !ok {
		return "", "", badRequest("Unable to find 'path' in JSON Schema change")
	}
	pointer, ok = rawPath.(string)
	if !ok {
		return "", "", badRequest("Pointer `%v` does not start with \"/\".", rawPath)
	}
	return op, pointer, nil
}

// decodePointer validates Glance's restricted JSON pointers and decodes
// their tokens (~1 is '/', ~0 is '~').
func decodePointer(pointer string) ([]string, *apiError) {
	switch {
	case !strings.HasPrefix(pointer, "/"):
		return nil, badRequest("Pointer `%s` does not start with \"/\".", pointer)
	case adjacentSlashes.MatchString(pointer[1:]):
		return nil, badRequest("Pointer `%s` contains adjacent \"/\".", pointer)
	case len(pointer) > 1 && strings.HasSuffix(pointer, "/"):
		return nil, badRequest("Pointer `%s` end with \"/\".", pointer)
	case strings.TrimSpace(pointer[1:]) == "/" || pointer == "/":
		return nil, badRequest("Pointer `%s` does not contains valid token.", pointer)
	case badTilde.MatchString(pointer) || strings.HasSuffix(pointer, "~"):
		return nil, badRequest("Pointer `%s` contains \"~\" not part of a recognized escape sequence.", pointer)
	}
	parts := strings.Split(pointer[1:], "/")
	for i, p := range parts {
		p = strings.ReplaceAll(p, "~1", "/")
		p = strings.ReplaceAll(p, "~0", "~")
		parts[i] = strings.TrimSpace(p)
	}
	return parts, nil
}

// validateChange refuses read-only and reserved properties (403) and values
// that do not match the schema (400).
func validateChange(p patchOp) *apiError {
	root := p.path[0]
	switch {
	case readOnlyProperties[root]:
		return forbidden("Attribute '%s' is read-only.", root)
	case isReserved(root):
		return forbidden("Attribute '%s' is reserved.", root)
	}
	if p.op == "remove" {
		return nil
	}
	if root == "locations" {
		if len(p.path) == 1 {
			return validateValue(root, p.value)
		}
		return nil
	}
	if len(root) > 255 {
		return badRequest("Custom property should not be greater than 255 characters.")
	}
	return validateValue(root, p.value)
}

// applyPatch applies one validated change to img (a copy of the stored
// image) with Glance's controller rules. The caller holds a.mu.
func (a *API) applyPatch(c *caller, img *Image, p patchOp) *apiError {
	root := p.path[0]
	if root == "locations" {
		return a.patchLocations(c, img, p)
	}
	if root == "owner" && p.op != "remove" && !c.naive && !c.admin {
		return forbidden("Owner can't be updated by non admin.")
	}
	// update_property: visibility changes need publicize/communitize,
	// every change needs modify_image.
	if root == "visibility" && p.op != "remove" {
		if vis, _ := p.value.(string); !c.canChangeVisibility(img, vis) {
			if vis == VisibilityPublic {
				return policyDenied("publicize_image")
			}
			return policyDenied("communitize_image")
		}
	}
	if !c.canModify(img) {
		return policyDenied("modify_image")
	}
	core := coreProperties[root]
	switch p.op {
	case "replace":
		if core {
			return setCore(img, root, p.value)
		}
		if !hasProperty(img, root) {
			return conflict("Property %s does not exist.", root)
		}
		img.Properties[root] = p.value.(string)
	case "add":
		if p.draft4 && (core || hasProperty(img, root)) {
			return conflict("Property %s already present.", root)
		}
		if core {
			return setCore(img, root, p.value)
		}
		if img.Properties == nil {
			img.Properties = make(map[string]string)
		}
		img.Properties[root] = p.value.(string)
	case "remove":
		if core {
			return forbidden("Property %s may not be removed.", root)
		}
		if !hasProperty(img, root) {
			return conflict("Property %s does not exist.", root)
		}
		delete(img.Properties, root)
	}
	return nil
}

// patchLocations refuses location changes the way a Glance with
// show_multiple_locations = false does.
func (a *API) patchLocations(c *caller, img *Image, p patchOp) *apiError {
	switch p.op {
	case "replace":
		if list, _ := p.value.([]any); len(list) == 0 {
			return forbidden("Cannot set locations to empty list.")
		}
		if !c.canModify(img) {
			return policyDenied("set_image_location")
		}
		return forbidden("It's not allowed to update locations if locations are invisible.")
	case "add":
		if !c.canModify(img) {
			return policyDenied("set_image_location")
		}
		return forbidden("It's not allowed to add locations if locations are invisible.")
	default:
		if !c.canPublicize() {
			return policyDenied("delete_image_location")
		}
		return forbidden("It's not allowed to remove locations if locations are invisible.")
	}
}
