package imageapi

import (
	"encoding/json"
	"net/http"
)

// The JSON schemas served under /v2/schemas/{name}: the subset of Glance's
// documents that describes what this API stores.

func nullable(typ string) []string { return []string{"null", typ} }

func imageSchema() map[string]any {
	uuid := "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
	ro := func(m map[string]any) map[string]any { m["readOnly"] = true; return m }
	return map[string]any{
		"name": "image",
		"properties": map[string]any{
			"id":         map[string]any{"type": "string", "description": "An identifier for the image", "pattern": uuid},
			"name":       map[string]any{"type": nullable("string"), "description": "Descriptive name for the image", "maxLength": 255},
			"status":     ro(map[string]any{"type": "string", "description": "Status of the image", "enum": []string{"queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"}}),
			"visibility": map[string]any{"type": "string", "description": "Scope of image accessibility", "enum": []string{"community", "public", "private", "shared"}},
			"protected":  map[string]any{"type": "boolean", "description": "If true, image will not be deletable."},
			"os_hidden":  map[string]any{"type": "boolean", "description": "If true, image will not appear in default image list response."},
			"checksum":   ro(map[string]any{"type": nullable("string"), "description": "md5 hash of image contents.", "maxLength": 32}),
			"os_hash_algo": ro(map[string]any{"type": nullable("string"),
				"description": "Algorithm to calculate the os_hash_value", "maxLength": 64}),
			"os_hash_value": ro(map[string]any{"type": nullable("string"),
				"description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength": 128}),
			"owner":            map[string]any{"type": nullable("string"), "description": "Owner of the image", "maxLength": 255},
			"size":             ro(map[string]any{"type": nullable("integer"), "description": "Size of image file in bytes"}),
			"virtual_size":     ro(map[string]any{"type": nullable("integer"), "description": "Virtual size of image in bytes"}),
			"container_format": map[string]any{"type": nullable("string"), "description": "Format of the container", "enum": []any{nil, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}},
			"disk_format":      map[string]any{"type": nullable("string"), "description": "Format of the disk", "enum": []any{nil, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}},
			"created_at":       ro(map[string]any{"type": "string", "description": "Date and time of image registration"}),
			"updated_at":       ro(map[string]any{"type": "string", "description": "Date and time of the last image modification"}),
			"tags":             map[string]any{"type": "array", "description": "List of strings related to the image", "items": map[string]any{"type": "string", "maxLength": 255}},
			"min_ram":          map[string]any{"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
			"min_disk":         map[string]any{"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
			"self":             ro(map[string]any{"type": "string", "description": "An image self url"}),
			"file":             ro(map[string]any{"type": "string", "description": "An image file url"}),
			"schema":           ro(map[string]any{"type": "string", "description": "An image schema url"}),
		},
		"additionalProperties": map[string]any{"type": "string"},
		"links": []map[string]string{
			{"rel": "self", "href": "{self}"},
			{"rel": "enclosure", "href": "{file}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func memberSchema() map[string]any {
	return map[string]any{
		"name": "member",
		"properties": map[string]any{
			"created_at": map[string]any{"type": "string", "description": "Date and time of image member creation"},
			"image_id":   map[string]any{"type": "string", "description": "An identifier for the image"},
			"member_id":  map[string]any{"type": "string", "description": "An identifier for the image member (tenantId)"},
			"schema":     map[string]any{"type": "string", "readOnly": true},
			"status":     map[string]any{"type": "string", "description": "The status of this image member", "enum": []string{"pending", "accepted", "rejected"}},
			"updated_at": map[string]any{"type": "string", "description": "Date and time of last modification of image member"},
		},
	}
}

func taskSchema() map[string]any {
	return map[string]any{
		"name": "task",
		"properties": map[string]any{
			"id":         map[string]any{"type": "string", "description": "An identifier for the task"},
			"type":       map[string]any{"type": "string", "description": "The type of task represented by this content", "enum": []string{"import", "export", "api_image_import"}},
			"status":     map[string]any{"type": "string", "description": "The current status of this task", "enum": []string{"pending", "processing", "success", "failure"}},
			"input":      map[string]any{"type": nullable("object"), "description": "The parameters required by task, JSON blob"},
			"result":     map[string]any{"type": nullable("object"), "description": "The result of current task, JSON blob"},
			"owner":      map[string]any{"type": "string", "description": "An identifier for the owner of this task"},
			"message":    map[string]any{"type": "string", "description": "Human-readable informative message only included when appropriate (usually on failure)"},
			"image_id":   map[string]any{"type": "string", "description": "Image associated with the task"},
			"user_id":    map[string]any{"type": "string", "description": "User associated with the task"},
			"expires_at": map[string]any{"type": nullable("string"), "description": "Datetime when this resource would be subject to removal"},
			"created_at": map[string]any{"type": "string", "description": "Datetime when this resource was created"},
			"updated_at": map[string]any{"type": "string", "description": "Datetime when this resource was updated"},
			"self":       map[string]any{"type": "string"},
			"schema":     map[string]any{"type": "string"},
		},
		"links": []map[string]string{
			{"rel": "self", "href": "{self}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func collectionSchema(name string, itemSchema map[string]any, paged bool) map[string]any {
	props := map[string]any{
		name:     map[string]any{"type": "array", "items": itemSchema},
		"schema": map[string]any{"type": "string"},
	}
	links := []map[string]string{}
	if paged {
		props["first"] = map[string]any{"type": "string"}
		props["next"] = map[string]any{"type": "string"}
		links = append(links, map[string]string{"rel": "first", "href": "{first}"}, map[string]string{"rel": "next", "href": "{next}"})
	}
	links = append(links, map[string]string{"rel": "describedby", "href": "{schema}"})
	return map[string]any{"name": name, "properties": props, "links": links}
}

// encodeSchemas builds the schema documents once.
func encodeSchemas() map[string][]byte {
	docs := map[string]any{
		"image":   imageSchema(),
		"images":  collectionSchema("images", imageSchema(), true),
		"member":  memberSchema(),
		"members": collectionSchema("members", memberSchema(), false),
		"task":    taskSchema(),
		"tasks":   collectionSchema("tasks", taskSchema(), true),
	}
	out := make(map[string][]byte, len(docs))
	for name, doc := range docs {
		b, err := json.Marshal(doc)
		if err != nil {
			panic("imageapi: cannot encode schema " + name + ": " + err.Error())
		}
		out[name] = b
	}
	return out
}

// serveSchema serves GET /v2/schemas/{image,images,member,members,task,tasks}.
func (a *API) serveSchema(w http.ResponseWriter, r *http.Request, c *caller) {
	doc, ok := a.schemas[r.PathValue("name")]
	if !ok {
		writeAPIError(w, notFound("The resource could not be found."))
		return
	}
	writeRawJSON(w, http.StatusOK, doc)
}
