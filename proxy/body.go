package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/imagegate/imagegate/policy"
)

// defaultMaxJSONDepth bounds nesting in request bodies unless limits.max_json_depth says
// otherwise: no image API document nests deeply, and a deep one costs the parser and the
// policy.
const defaultMaxJSONDepth = 32

// errTooLarge marks a body over the configured limit.
var errTooLarge = errors.New("request body too large")

// readLimited reads at most limit bytes of r; more is errTooLarge.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	return readLimitedSized(r, limit, -1)
}

// readLimitedSized is readLimited for a body whose length is announced (size ≥ 0, as
// http's ContentLength): the buffer is made that size at once instead of grown by
// doubling, which was a third of the bytes a filtered list allocated. The announced size
// is only a hint, never trusted beyond limit.
func readLimitedSized(r io.Reader, limit, size int64) ([]byte, error) {
	if size < 0 || size > limit {
		// io.ReadAll grows its buffer better than a guess would.
		b, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > limit {
			return nil, errTooLarge
		}
		return b, nil
	}
	// One byte more than announced, so that the read meeting the end needs no growth.
	b := make([]byte, 0, size+1)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// decodeStrictJSONDepth parses one JSON document and refuses what two parsers could read
// differently: duplicate object keys (the policy would see one value and the upstream
// perhaps the other), trailing data, invalid UTF-8 and nesting over maxDepth levels
// (defaultMaxJSONDepth when maxDepth ≤ 0). Numbers stay json.Number so that no precision
// is lost between what the policy sees and what is sent.
func decodeStrictJSONDepth(data []byte, maxDepth int) (any, error) {
	if maxDepth <= 0 {
		maxDepth = defaultMaxJSONDepth
	}
	if !utf8.Valid(data) {
		return nil, errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("body has data after the JSON document")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("body nests deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("body is not valid JSON: %w", err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("body is not valid JSON: object key is not a string")
				}
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("body has the key %q twice", key)
				}
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("body is not valid JSON: %w", err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("body is not valid JSON: %w", err)
			}
			return arr, nil
		}
		return nil, errors.New("body is not valid JSON")
	default:
		return t, nil
	}
}

// Media types of Glance's image PATCH.
const (
	patchMediaV21 = "application/openstack-images-v2.1-json-patch"
	patchMediaV20 = "application/openstack-images-v2.0-json-patch"
)

// mediaType returns the lower-case media type of a Content-Type header, "" when absent.
func mediaType(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("invalid Content-Type: %w", err)
	}
	return mt, nil
}

// isJSONMedia accepts application/json and the +json structured suffix.
func isJSONMedia(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// parsePatch turns a decoded Glance PATCH document into the ops the policy sees. The
// shape is checked here (an array of objects with a string op and a JSON pointer path)
// so the policy can rely on it; which ops and paths are allowed is the policy's business.
func parsePatch(doc any) ([]policy.PatchOp, error) {
	arr, ok := doc.([]any)
	if !ok {
		return nil, errors.New("a PATCH document is a JSON array of operations")
	}
	ops := make([]policy.PatchOp, 0, len(arr))
	for i, raw := range arr {
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("PATCH operation %d is not an object", i)
		}
		op, ok := obj["op"].(string)
		if !ok {
			return nil, fmt.Errorf("PATCH operation %d has no op", i)
		}
		path, ok := obj["path"].(string)
		if !ok {
			return nil, fmt.Errorf("PATCH operation %d has no path", i)
		}
		for k := range obj {
			switch k {
			case "op", "path", "value":
			default:
				return nil, fmt.Errorf("PATCH operation %d has the unknown member %q", i, k)
			}
		}
		pointer, err := parsePointer(path)
		if err != nil {
			return nil, fmt.Errorf("PATCH operation %d: %w", i, err)
		}
		value, has := obj["value"]
		ops = append(ops, policy.PatchOp{Op: op, Path: path, Pointer: pointer, Value: value, HasValue: has})
	}
	return ops, nil
}

// parsePointer decodes a JSON pointer (RFC 6901) into its tokens, refusing escapes other
// than ~0 and ~1 so that the policy and the upstream cannot disagree on the property.
func parsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return nil, fmt.Errorf("path %q is not a JSON pointer to a property", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		var b strings.Builder
		for j := 0; j < len(part); j++ {
			c := part[j]
			if c != '~' {
				b.WriteByte(c)
				continue
			}
			if j+1 >= len(part) || (part[j+1] != '0' && part[j+1] != '1') {
				return nil, fmt.Errorf("path %q has an invalid ~ escape", p)
			}
			if part[j+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			j++
		}
		if b.Len() == 0 {
			return nil, fmt.Errorf("path %q has an empty token", p)
		}
		parts[i] = b.String()
	}
	return parts, nil
}
