package imageapi

import (
	"net/http"
)

// apiVersions are the versions a single-store Glance 25 without image cache
// announces, newest first.
var apiVersions = []struct{ id, status string }{
	{"v2.15", "CURRENT"},
	{"v2.9", "SUPPORTED"},
	{"v2.7", "SUPPORTED"},
	{"v2.6", "SUPPORTED"},
	{"v2.5", "SUPPORTED"},
	{"v2.4", "SUPPORTED"},
	{"v2.3", "SUPPORTED"},
	{"v2.2", "SUPPORTED"},
	{"v2.1", "SUPPORTED"},
	{"v2.0", "SUPPORTED"},
}

// serveVersions serves the version document with links built from the Host
// header: GET / answers 300 Multiple Choices, GET /versions 200, as Glance.
func (a *API) serveVersions(explicit bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		href := absoluteURL(r, "/v2/")
		versions := make([]map[string]any, len(apiVersions))
		for i, v := range apiVersions {
			versions[i] = map[string]any{
				"id":     v.id,
				"status": v.status,
				"links":  []map[string]string{{"rel": "self", "href": href}},
			}
		}
		code := http.StatusMultipleChoices
		if explicit {
			code = http.StatusOK
		}
		writeJSON(w, code, map[string]any{"versions": versions})
	}
}

// serveHealthcheck answers 200 "OK" like oslo.middleware's healthcheck.
func (a *API) serveHealthcheck(w http.ResponseWriter, r *http.Request, c *caller) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

// serveImportInfo serves GET /v2/info/import.
func (a *API) serveImportInfo(w http.ResponseWriter, r *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, map[string]any{
		"import-methods": map[string]any{
			"description": "Import methods available.",
			"type":        "array",
			"value":       importMethods,
		},
	})
}

// serveStoresInfo serves GET /v2/info/stores with the one in-memory store
// (a single-store Glance answers 404 here; see the package documentation).
func (a *API) serveStoresInfo(w http.ResponseWriter, r *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, map[string]any{
		"stores": []map[string]string{{"id": "file", "description": "In-memory store", "default": "true"}},
	})
}
