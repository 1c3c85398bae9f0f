package imageapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Property sets, as in Glance 25's v2 images deserializer.
var (
	// coreProperties are the image's own attributes; the rest are custom
	// properties.
	coreProperties = stringSet("checksum", "created_at", "container_format", "disk_format", "id",
		"min_disk", "min_ram", "name", "size", "virtual_size", "status", "tags", "owner",
		"updated_at", "visibility", "protected", "os_hidden", "os_hash_algo", "os_hash_value")
	// readOnlyProperties cannot be set by PATCH (403); on create only "id"
	// of them is accepted.
	readOnlyProperties = stringSet("created_at", "updated_at", "status", "checksum", "size",
		"virtual_size", "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value")
	// disallowedOnCreate answer 403 when present in a create body.
	disallowedOnCreate = []string{"direct_url", "self", "file", "schema", "stores"}
	// reservedProperties answer 403 anywhere.
	reservedProperties = stringSet("location", "deleted", "deleted_at")
	containerFormats   = stringSet("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
	diskFormats        = stringSet("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
	visibilities       = stringSet(VisibilityPublic, VisibilityPrivate, VisibilityShared, VisibilityCommunity)
	uuidPattern        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// reservedNamespace is Glance's GLANCE_RESERVED_NS: properties starting with
// it belong to Glance.
const reservedNamespace = "os_glance"

func stringSet(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// isReserved reports properties no caller may set.
func isReserved(key string) bool {
	return reservedProperties[key] || strings.HasPrefix(key, reservedNamespace)
}

// readJSON reads a JSON request body of at most MaxJSONBodyBytes. Numbers
// decode as json.Number.
func readJSON(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge("Request body is larger than %d bytes.", MaxJSONBodyBytes)
		}
		return nil, badRequest("Cannot read request body: %v", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, badRequest("Body expected in request.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("Malformed JSON in request body.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("Malformed JSON in request body.")
	}
	return v, nil
}

// readJSONObject reads a JSON request body that must be an object.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]any, *apiError) {
	v, e := readJSON(w, r)
	if e != nil {
		return nil, e
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("Expected a JSON object in request body.")
	}
	return obj, nil
}

func schemaError(key string, value any, want string) *apiError {
	b, _ := json.Marshal(value)
	return badRequest("Provided object does not match schema 'image': %s is not valid for '%s' (%s)", b, key, want)
}

// validateValue checks value against the image schema's property key, as
// Glance's schema validation does (400 on mismatch). Custom properties must
// be strings.
func validateValue(key string, value any) *apiError {
	switch key {
	case "name", "owner":
		if value == nil {
			return nil
		}
		s, ok := value.(string)
		if !ok || len(s) > 255 {
			return schemaError(key, value, "null or a string of at most 255 characters")
		}
	case "visibility":
		s, ok := value.(string)
		if !ok || !visibilities[s] {
			return schemaError(key, value, "one of community, public, private, shared")
		}
	case "protected", "os_hidden":
		if _, ok := value.(bool); !ok {
			return schemaError(key, value, "a boolean")
		}
	case "min_disk", "min_ram":
		n, ok := value.(json.Number)
		if !ok {
			return schemaError(key, value, "an integer")
		}
		if _, err := n.Int64(); err != nil {
			return schemaError(key, value, "an integer")
		}
	case "container_format", "disk_format":
		if value == nil {
			return nil
		}
		s, ok := value.(string)
		allowed := containerFormats
		if key == "disk_format" {
			allowed = diskFormats
		}
		if !ok || !allowed[s] {
			return schemaError(key, value, "null or a known format")
		}
	case "tags":
		list, ok := value.([]any)
		if !ok {
			return schemaError(key, value, "an array of strings")
		}
		for _, t := range list {
			s, ok := t.(string)
			if !ok || len(s) > 255 {
				return schemaError(key, value, "an array of strings of at most 255 characters")
			}
		}
	case "id":
		s, ok := value.(string)
		if !ok || !uuidPattern.MatchString(s) {
			return schemaError(key, value, "a UUID")
		}
	case "locations":
		if _, ok := value.([]any); !ok {
			return schemaError(key, value, "an array")
		}
	default:
		if readOnlyProperties[key] {
			// Type-checked by the schema but refused later as read-only.
			return nil
		}
		if _, ok := value.(string); !ok {
			return schemaError(key, value, "a string")
		}
	}
	return nil
}

// setCore sets a core (writable) attribute from an already validated value.
// It applies Glance's domain rules: formats change only on queued images,
// min_disk and min_ram are not negative, tags are deduplicated.
func setCore(img *Image, key string, value any) *apiError {
	switch key {
	case "name":
		img.Name, _ = value.(string)
	case "owner":
		img.Owner, _ = value.(string)
	case "visibility":
		img.Visibility = value.(string)
	case "protected":
		img.Protected = value.(bool)
	case "os_hidden":
		img.OSHidden = value.(bool)
	case "min_disk", "min_ram":
		n, _ := value.(json.Number).Int64()
		if n < 0 {
			return badRequest("Invalid value '%d' for parameter '%s': Cannot be a negative value.", n, key)
		}
		if key == "min_disk" {
			img.MinDisk = int(n)
		} else {
			img.MinRAM = int(n)
		}
	case "container_format", "disk_format":
		if img.Status != StatusQueued && img.Status != StatusImporting {
			return forbidden("Attribute %s can be only replaced for a queued image.", key)
		}
		s, _ := value.(string)
		if key == "container_format" {
			img.ContainerFormat = s
		} else {
			img.DiskFormat = s
		}
	case "tags":
		tags, e := tagList(value.([]any))
		if e != nil {
			return e
		}
		img.Tags = tags
	default:
		return forbidden("Attribute '%s' is read-only.", key)
	}
	return nil
}

// tagList turns a validated JSON array into a deduplicated tag list within
// the tag quota.
func tagList(values []any) ([]string, *apiError) {
	tags := make([]string, 0, len(values))
	for _, v := range values {
		s := v.(string)
		if !slices.Contains(tags, s) {
			tags = append(tags, s)
		}
	}
	if len(tags) > MaxTagsPerImage {
		return nil, tooLarge("Maximum number of tags exceeded: %d > %d.", len(tags), MaxTagsPerImage)
	}
	return tags, nil
}

// hasProperty reports whether the image has the custom property key.
func hasProperty(img *Image, key string) bool {
	_, ok := img.Properties[key]
	return ok
}
