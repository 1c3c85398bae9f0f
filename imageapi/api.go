package imageapi

import (
	"net/http"
	"sync"
	"time"
)

// Mode selects how much the API enforces.
type Mode int

const (
	// Enforcing behaves like real Glance 25 with secure RBAC: identity from
	// trusted headers (X-Identity-Status: Confirmed required, else 401;
	// X-Project-Id, else X-Tenant-Id; X-Roles comma-separated; X-User-Id),
	// visibility and member rules enforced, 404 for invisible images and 403
	// for forbidden changes.
	Enforcing Mode = iota
	// Naive trusts whoever calls and enforces nothing: lists return every
	// image (query filters still apply as plain filters), gets return any
	// image and anyone changes anything.
	Naive
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Enforcing:
		return "enforcing"
	case Naive:
		return "naive"
	default:
		return "unknown"
	}
}

// Defaults used when Options leave a field zero.
const (
	// DefaultMaxImageBytes caps the data of one image (upload or stage).
	DefaultMaxImageBytes int64 = 64 << 20
	// DefaultRequestLogSize is how many requests the ring of recorded
	// requests keeps.
	DefaultRequestLogSize = 1000
	// MaxJSONBodyBytes caps JSON request bodies, like Glance's
	// max_request_body_size (112 KiB); larger bodies answer 413.
	MaxJSONBodyBytes int64 = 114688
	// DefaultListLimit is the page size of lists without a limit parameter.
	DefaultListLimit = 25
	// MaxListLimit caps the limit parameter of lists (larger values are
	// silently reduced, as in Glance).
	MaxListLimit = 1000
	// MaxTagsPerImage is Glance's image_tag_quota.
	MaxTagsPerImage = 128
	// MaxMembersPerImage is Glance's image_member_quota.
	MaxMembersPerImage = 128
)

// Options configure an API. The zero value is valid: Enforcing mode,
// time.Now, DefaultMaxImageBytes and DefaultRequestLogSize.
type Options struct {
	// Mode selects Enforcing (the default) or Naive behaviour.
	Mode Mode
	// Now returns the current time; nil means time.Now. Tests set it for
	// deterministic timestamps.
	Now func() time.Time
	// MaxImageBytes caps the data of one image kept in memory; uploads and
	// stages above it answer 413. Zero means DefaultMaxImageBytes.
	MaxImageBytes int64
	// RequestLogSize is how many recent requests Requests returns. Zero
	// means DefaultRequestLogSize; negative disables recording (counters
	// still work).
	RequestLogSize int
}

// API is the in-memory Glance v2 image API. It implements http.Handler and is
// safe for concurrent use. Create it with New.
type API struct {
	mode     Mode
	now      func() time.Time
	maxBytes int64

	mux    *http.ServeMux
	routes map[string]bool // registered patterns

	mu      sync.RWMutex
	images  map[string]*imageRecord
	members map[string]map[string]*Member // image id → member id → member
	tasks   map[string]*Task

	rec recorder

	schemas map[string][]byte // pre-encoded schema documents
}

// New returns an empty API configured by opts. Add images with Seed or
// through the HTTP API.
func New(opts Options) *API {
	a := &API{
		mode:     opts.Mode,
		now:      opts.Now,
		maxBytes: opts.MaxImageBytes,
		mux:      http.NewServeMux(),
		routes:   make(map[string]bool),
		images:   make(map[string]*imageRecord),
		members:  make(map[string]map[string]*Member),
		tasks:    make(map[string]*Task),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxBytes <= 0 {
		a.maxBytes = DefaultMaxImageBytes
	}
	size := opts.RequestLogSize
	if size == 0 {
		size = DefaultRequestLogSize
	}
	a.rec.init(size)
	a.schemas = encodeSchemas()
	a.registerRoutes()
	return a
}

// Mode reports the mode the API was created with.
func (a *API) Mode() Mode { return a.mode }

// Route names: the ServeMux patterns the API registers. Stats counts requests
// under these names, and RecordedRequest.Route carries them.
const (
	RouteRoot         = "GET /{$}"
	RouteVersions     = "GET /versions"
	RouteHealthcheck  = "GET /healthcheck"
	RouteListImages   = "GET /v2/images"
	RouteCreateImage  = "POST /v2/images"
	RouteGetImage     = "GET /v2/images/{id}"
	RouteUpdateImage  = "PATCH /v2/images/{id}"
	RouteDeleteImage  = "DELETE /v2/images/{id}"
	RouteUploadData   = "PUT /v2/images/{id}/file"
	RouteDownloadData = "GET /v2/images/{id}/file"
	RouteStageData    = "PUT /v2/images/{id}/stage"
	RouteImportImage  = "POST /v2/images/{id}/import"
	RouteDeactivate   = "POST /v2/images/{id}/actions/deactivate"
	RouteReactivate   = "POST /v2/images/{id}/actions/reactivate"
	RouteImageTasks   = "GET /v2/images/{id}/tasks"
	RouteAddTag       = "PUT /v2/images/{id}/tags/{tag}"
	RouteDeleteTag    = "DELETE /v2/images/{id}/tags/{tag}"
	RouteListMembers  = "GET /v2/images/{id}/members"
	RouteCreateMember = "POST /v2/images/{id}/members"
	RouteGetMember    = "GET /v2/images/{id}/members/{member_id}"
	RouteUpdateMember = "PUT /v2/images/{id}/members/{member_id}"
	RouteDeleteMember = "DELETE /v2/images/{id}/members/{member_id}"
	RouteListTasks    = "GET /v2/tasks"
	RouteCreateTask   = "POST /v2/tasks"
	RouteGetTask      = "GET /v2/tasks/{id}"
	RouteGetSchema    = "GET /v2/schemas/{name}"
	RouteImportInfo   = "GET /v2/info/import"
	RouteStoresInfo   = "GET /v2/info/stores"
	// RouteUnmatched counts requests that matched no route (404 or 405).
	RouteUnmatched = "unmatched"
)

// maxRequestIDLength is the longest X-Openstack-Request-Id Glance accepts.
const maxRequestIDLength = 64

// handlerFunc is an endpoint handler that receives the caller's identity.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *caller)

func (a *API) registerRoutes() {
	a.handle(RouteRoot, a.serveVersions(false))
	a.handle(RouteVersions, a.serveVersions(true))
	a.handle(RouteHealthcheck, a.serveHealthcheck)

	a.handle(RouteListImages, a.serveListImages)
	a.handle(RouteCreateImage, a.serveCreateImage)
	a.handle(RouteGetImage, a.serveGetImage)
	a.handle(RouteUpdateImage, a.serveUpdateImage)
	a.handle(RouteDeleteImage, a.serveDeleteImage)
	a.handle(RouteUploadData, a.serveUpload)
	a.handle(RouteDownloadData, a.serveDownload)
	a.handle(RouteStageData, a.serveStage)
	a.handle(RouteImportImage, a.serveImport)
	a.handle(RouteDeactivate, a.serveDeactivate)
	a.handle(RouteReactivate, a.serveReactivate)
	a.handle(RouteImageTasks, a.serveImageTasks)

	a.handle(RouteAddTag, a.serveAddTag)
	a.handle(RouteDeleteTag, a.serveDeleteTag)

	a.handle(RouteListMembers, a.serveListMembers)
	a.handle(RouteCreateMember, a.serveCreateMember)
	a.handle(RouteGetMember, a.serveGetMember)
	a.handle(RouteUpdateMember, a.serveUpdateMember)
	a.handle(RouteDeleteMember, a.serveDeleteMember)

	a.handle(RouteListTasks, a.serveListTasks)
	a.handle(RouteCreateTask, a.serveCreateTask)
	a.handle(RouteGetTask, a.serveGetTask)

	a.handle(RouteGetSchema, a.serveSchema)
	a.handle(RouteImportInfo, a.serveImportInfo)
	a.handle(RouteStoresInfo, a.serveStoresInfo)
}

func (a *API) handle(pattern string, h handlerFunc) {
	a.routes[pattern] = true
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := a.callerFrom(r)
		if a.mode == Enforcing && !isPublicRoute(pattern) && c.scoped {
			// Glance with enforce_scope refuses domain- and system-scoped
			// credentials on every project-scoped policy.
			writeError(w, http.StatusForbidden, "Domain- or system-scoped credentials are not accepted by project-scoped policies.")
			return
		}
		h(w, r, c)
	})
}

// isPublicRoute reports the routes Glance serves before its context
// middleware, that is without authentication.
func isPublicRoute(route string) bool {
	return route == RouteRoot || route == RouteVersions || route == RouteHealthcheck
}

// routeOf returns the registered route a request matches, or RouteUnmatched.
func (a *API) routeOf(r *http.Request) string {
	_, pattern := a.mux.Handler(r)
	if a.routes[pattern] {
		return pattern
	}
	return RouteUnmatched
}

// ServeHTTP serves the Glance v2 API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := a.routeOf(r)
	a.rec.record(r, route, a.now())
	w.Header().Set("X-Openstack-Request-Id", "req-"+newUUID())

	if a.mode == Enforcing && !isPublicRoute(route) && r.Header.Get("X-Identity-Status") != "Confirmed" {
		// Glance's ContextMiddleware runs before routing: 401 comes first.
		writeError(w, http.StatusUnauthorized, "This server could not verify that you are authorized to access the document you requested.")
		return
	}
	if a.mode == Enforcing && !isPublicRoute(route) && len(r.Header.Get("X-Openstack-Request-Id")) > maxRequestIDLength {
		// Glance fails on global request ids it cannot store.
		writeError(w, http.StatusInternalServerError, "The server has either erred or is incapable of performing the requested operation.")
		return
	}
	if route == RouteUnmatched {
		a.mux.ServeHTTP(&jsonErrorWriter{ResponseWriter: w}, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}
