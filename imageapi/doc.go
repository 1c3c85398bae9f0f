// Package imageapi is an in-memory imitation of the OpenStack Glance v2 image
// API (as served by Glance 25, "Zed", with secure RBAC), packaged as an
// http.Handler.
//
// imagegate uses it as the upstream of `imagegate demo`, and integration tests
// and benchmarks use it as a fast upstream started in the same process. It is
// not a storage service: image data live in memory, capped per image by
// Options.MaxImageBytes.
//
// TestConformanceWithRealGlance runs one scenario (about 150 requests: every
// endpoint, the visibility and member rules, PATCH, data, lists and their
// filters and links) against a real Glance 25 and against this package, and
// requires the same status codes, list contents and document keys.
//
// # Modes
//
// In Enforcing mode the API behaves like Glance 25 deployed behind an
// authenticating proxy: it trusts the identity headers (X-Identity-Status,
// X-Project-Id, else X-Tenant-Id, X-Roles, X-User-Id), answers 401 without
// "X-Identity-Status: Confirmed" (/, /versions and /healthcheck excepted),
// applies Glance's default policies (reader, member and admin personas; roles
// are taken literally as sent, implied roles are not added), hides invisible
// images behind 404 on every path under them and refuses visible but
// forbidden changes with 403.
//
// In Naive mode the API trusts whoever calls and enforces nothing: every
// image is readable and listed, anyone may change anything, and no identity
// header is needed. Query filters still apply as plain filters: visibility
// compares the field, member_status (only when given) keeps images that have
// a member with that status, and Glance's own default os_hidden=false still
// leaves hidden images out. It stands for an upstream that trusts the proxy's
// service identity, and proves that the proxy alone separates tenants.
// Rules that do not depend on identity still apply in both modes (protected
// images, status transitions, only shared images have members, formats
// before data).
//
// # Glance behaviours kept on purpose
//
//   - Data uploads and stages need Content-Type: application/octet-stream
//     (415 otherwise, also when it is missing) and disk_format and
//     container_format set first (400).
//   - A list marker naming an existing image the caller may not see answers
//     403, an unknown one 400: the small existence leak of real Glance.
//   - X-Domain-Id or OpenStack-System-Scope make every call 403, an
//     X-Openstack-Request-Id longer than 64 characters answers 500.
//   - PATCH errors of the request body (415, 400, read-only 403) come before
//     the image lookup (404).
//   - GET /v2/images/{id}/tasks renders database rows (microsecond times
//     without zone, deleted flags), unlike /v2/tasks.
//
// # Differences from real Glance
//
//   - Error bodies are JSON, {"error": {"code": N, "title": "...", "message": "..."}},
//     where Glance answers HTML. Status codes are Glance's; messages are
//     worded like Glance's.
//   - glance-direct imports finish synchronously: when POST .../import answers
//     202 the image is already active. copy-image is accepted as a no-op on
//     active images (a single-store Glance answers 500).
//   - Tasks created through POST /v2/tasks are recorded (status pending) but
//     never run; "export" is accepted besides Glance's "import" because the
//     Rackspace flavour of the API documents it, and import_from is not
//     checked.
//   - GET /v2/info/stores answers one "file" store; a single-store Glance
//     answers 404 there.
//   - List "next" links appear only when more images follow; Glance also adds
//     one when the last page is exactly full.
//   - Image names are plain strings: an empty name is shown as null.
//   - Deleted images are removed, not kept as soft-deleted rows.
//
// Every request is counted per route (Stats) and recorded with its headers in
// a bounded ring (Requests, LastRequest), so tests can assert what reached the
// upstream and with which identity.
package imageapi
