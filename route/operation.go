// Package route turns an HTTP request into a named Operation of an image API dialect.
//
// It owns the canonical form of request targets: a path or query that could be read in
// two ways by the proxy and the upstream is refused here, before anything else looks at
// it, so that the policy and the upstream always see the same request.
package route

import (
	"fmt"
	"strconv"
)

// Dialects the router knows.
const (
	DialectGlance = "glance"
	DialectGcore  = "gcore"
)

// Body says what kind of request body an operation carries, so the proxy knows whether it
// may read the body (small JSON documents) or must stream it untouched (image data).
type Body int

const (
	// BodyNone: the operation takes no body; one sent anyway is not read by the policy.
	BodyNone Body = iota
	// BodyJSON: a JSON document the policy may inspect (size-limited).
	BodyJSON
	// BodyPatch: a JSON Patch document (Glance image update).
	BodyPatch
	// BodyData: image data, streamed and never buffered.
	BodyData
)

// Operation is what a request means: the dialect, a stable operation name such as
// "images.list" or "members.update", and the parameters taken from the path.
type Operation struct {
	Dialect    string            `json:"dialect"`
	Name       string            `json:"name"`
	Params     map[string]string `json:"params"`
	Deprecated bool              `json:"deprecated,omitempty"`
	Body       Body              `json:"-"`
}

// String returns the lower-case name of the body kind ("none", "json", "patch", "data"),
// the same word used in route listings and documentation.
func (b Body) String() string {
	switch b {
	case BodyNone:
		return "none"
	case BodyJSON:
		return "json"
	case BodyPatch:
		return "patch"
	case BodyData:
		return "data"
	}
	return "Body(" + strconv.Itoa(int(b)) + ")"
}

// MarshalText encodes the body kind as its name, so route listings (RouteInfo) read
// "json" rather than a number that would change meaning if the constants were reordered.
func (b Body) MarshalText() ([]byte, error) {
	if !b.valid() {
		return nil, fmt.Errorf("route: unknown body kind %d", int(b))
	}
	return []byte(b.String()), nil
}

// valid reports whether b is one of the declared body kinds.
func (b Body) valid() bool {
	return b >= BodyNone && b <= BodyData
}
