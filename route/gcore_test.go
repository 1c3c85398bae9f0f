package route

import (
	"maps"
	"net/http"
	"testing"
)

// gcoreContract is the v1 table as policies rely on it (API-NOTES §B), written out
// independently of gcoreRoutes so that an edit to the table shows up here.
func gcoreContract() []struct {
	method, path, name string
	body               Body
	deprecated         bool
	params             map[string]string
} {
	const img = "/v1/images/7/1/" + testImage
	scope := map[string]string{"project_id": "7", "region_id": "1"}
	ip := map[string]string{"project_id": "7", "region_id": "1", "image_id": testImage}
	none := map[string]string{}
	return []struct {
		method, path, name string
		body               Body
		deprecated         bool
		params             map[string]string
	}{
		{"GET", "/v1/images/7/1", "images.list", BodyNone, false, scope},
		{"POST", "/v1/images/7/1", "images.create", BodyJSON, false, scope},
		{"GET", "/v1/projectimages/7/1", "projectimages.list", BodyNone, false, scope},
		{"GET", img, "images.get", BodyNone, false, ip},
		{"PATCH", img, "images.update", BodyJSON, false, ip},
		{"DELETE", img, "images.delete", BodyNone, false, ip},
		{"GET", img + "/metadata", "metadata.list", BodyNone, false, ip},
		{"POST", img + "/metadata", "metadata.create", BodyJSON, false, ip},
		{"PUT", img + "/metadata", "metadata.replace", BodyJSON, false, ip},
		{"GET", img + "/metadata_item", "metadata_item.get", BodyNone, false, ip},
		{"DELETE", img + "/metadata_item", "metadata_item.delete", BodyNone, false, ip},
		{"GET", "/v1/reseller_image/1001", "reseller_image.get", BodyNone, true, map[string]string{"reseller_id": "1001"}},
		{"PUT", "/v1/reseller_image", "reseller_image.set", BodyJSON, true, none},
		{"DELETE", "/v1/reseller_image/1001", "reseller_image.delete", BodyNone, true, map[string]string{"reseller_id": "1001"}},
		{"GET", "/v1/shared_image", "shared_image.list", BodyNone, false, none},
		{"PUT", "/v1/shared_image", "shared_image.set", BodyJSON, false, none},
		{"DELETE", "/v1/shared_image", "shared_image.delete", BodyNone, false, none},
	}
}

func TestGcoreMatch(t *testing.T) {
	r := NewGcore()
	if r.Dialect() != DialectGcore {
		t.Fatalf("dialect = %q", r.Dialect())
	}
	for _, prefix := range []string{"", GcorePrefix} {
		for _, tt := range gcoreContract() {
			t.Run(tt.method+" "+prefix+tt.path, func(t *testing.T) {
				op, err := r.Match(tt.method, prefix+tt.path)
				wantCode(t, err, "")
				if op.Dialect != DialectGcore || op.Name != tt.name || op.Body != tt.body || op.Deprecated != tt.deprecated {
					t.Errorf("op = %+v, want %s (%v, deprecated %v)", op, tt.name, tt.body, tt.deprecated)
				}
				if !maps.Equal(op.Params, tt.params) {
					t.Errorf("params = %v, want %v", op.Params, tt.params)
				}
			})
		}
	}
	if got, want := len(r.Operations()), 2*len(gcoreContract()); got != want {
		t.Errorf("the table has %d routes, the contract %d", got, want)
	}
}

// TestGcoreRefusals: the v1 table keeps every canonical-path rule, and its own shape.
func TestGcoreRefusals(t *testing.T) {
	r := NewGcore()
	tests := []struct {
		method, target, code string
	}{
		{"GET", "/v1/images/7", CodeNotFound},
		{"GET", "/v1/images/7/1/" + testImage + "/metadata/x", CodeNotFound},
		{"GET", "/v2/images", CodeNotFound},
		{"GET", "/cloud", CodeNotFound},
		{"GET", "/cloud/cloud/v1/images/7/1", CodeNotFound},
		{"POST", "/v1/projectimages/7/1", CodeMethodNotAllowed},
		{"PATCH", "/v1/shared_image", CodeMethodNotAllowed},
		{"GET", "/v1/images/7/1/", CodeBadPath},
		{"GET", "/v1/images/7//1", CodeBadPath},
		{"GET", "/v1/images/7/%2e%2e/1", CodeBadPath},
		{"GET", "/v1/images/7%2F1/1", CodeBadPath},
		{"GET", "/cloud/v1/images/7/1/..", CodeBadPath},
		{"GET", "/v1/images/123456789012345678901/1", CodeBadParam},
		{"GET", "/v1/shared_image?entity_type=a;entity_id=1", CodeBadQuery},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			_, _, err := r.Resolve(serverRequest(t, tt.method, tt.target), 0)
			wantCode(t, err, tt.code)
		})
	}
	// A 405 names what the path accepts.
	_, _, err := r.Resolve(serverRequest(t, http.MethodPost, "/cloud/v1/reseller_image/1"), 0)
	wantAllow(t, wantCode(t, err, CodeMethodNotAllowed), "DELETE", "GET")
}
