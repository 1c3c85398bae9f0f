package proxy

import (
	"errors"

	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// DecodeBody parses a request body for op exactly as the request path does before the
// policy decides: strict JSON (no duplicate keys, no trailing data, bounded nesting,
// numbers kept exact) for operations that take a JSON document, and for a PATCH the JSON
// Patch operations as input.request.patch shows them. Image data is never read (nil, nil).
// maxDepth is limits.max_json_depth (≤ 0: the default). It lets `imagegate check` decide
// offline on the input the proxy would build; the Content-Type and size checks of the
// request path are not repeated here.
func DecodeBody(op route.Operation, raw []byte, maxDepth int) (body any, patch []policy.PatchOp, err error) {
	switch op.Body {
	case route.BodyData:
		return nil, nil, nil
	case route.BodyNone:
		if len(raw) > 0 {
			return nil, nil, errors.New(op.Name + " takes no request body")
		}
		return nil, nil, nil
	}
	if len(raw) == 0 {
		if op.Body == route.BodyPatch {
			return nil, nil, errors.New("PATCH needs a JSON Patch document")
		}
		return nil, nil, nil
	}
	doc, err := decodeStrictJSONDepth(raw, maxDepth)
	if err != nil {
		return nil, nil, err
	}
	if op.Body == route.BodyPatch {
		if patch, err = parsePatch(doc); err != nil {
			return nil, nil, err
		}
	}
	return doc, patch, nil
}
