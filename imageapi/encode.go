package imageapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON encoding of image documents: lists are the hot path of
// every benchmark that uses this API as an upstream, and encoding/json spends
// most of its time on reflection and on sorting map keys.

// renderedKeys are the keys appendImage writes itself; custom properties
// with these names are never shown (Seed and the API refuse them anyway).
var renderedKeys = stringSet("id", "name", "status", "visibility", "protected", "os_hidden", "owner",
	"container_format", "disk_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
	"min_disk", "min_ram", "created_at", "updated_at", "tags", "self", "file", "schema")

// appendImage appends the JSON document of img: custom properties (sorted)
// at the top level, then the core attributes; unset ones are null.
func appendImage(dst []byte, img *Image) []byte {
	dst = append(dst, '{')
	if len(img.Properties) > 0 {
		keys := make([]string, 0, len(img.Properties))
		for k := range img.Properties {
			if !renderedKeys[k] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, img.Properties[k])
			dst = append(dst, ',')
		}
	}
	dst = appendField(dst, "id", img.ID, false)
	dst = appendField(dst, "name", img.Name, true)
	dst = appendField(dst, "status", img.Status, false)
	dst = appendField(dst, "visibility", img.Visibility, false)
	dst = append(dst, `,"protected":`...)
	dst = strconv.AppendBool(dst, img.Protected)
	dst = append(dst, `,"os_hidden":`...)
	dst = strconv.AppendBool(dst, img.OSHidden)
	dst = appendField(dst, "owner", img.Owner, true)
	dst = appendField(dst, "container_format", img.ContainerFormat, true)
	dst = appendField(dst, "disk_format", img.DiskFormat, true)
	dst = append(dst, `,"size":`...)
	dst = appendNullInt(dst, img.Size)
	dst = append(dst, `,"virtual_size":`...)
	dst = appendNullInt(dst, img.VirtualSize)
	dst = appendField(dst, "checksum", img.Checksum, true)
	dst = appendField(dst, "os_hash_algo", img.OSHashAlgo, true)
	dst = appendField(dst, "os_hash_value", img.OSHashValue, true)
	dst = append(dst, `,"min_disk":`...)
	dst = strconv.AppendInt(dst, int64(img.MinDisk), 10)
	dst = append(dst, `,"min_ram":`...)
	dst = strconv.AppendInt(dst, int64(img.MinRAM), 10)
	dst = append(dst, `,"created_at":"`...)
	dst = img.CreatedAt.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","updated_at":"`...)
	dst = img.UpdatedAt.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","tags":[`...)
	for i, t := range img.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, t)
	}
	dst = append(dst, `],"self":"/v2/images/`...)
	dst = appendUnquoted(dst, img.ID)
	dst = append(dst, `","file":"/v2/images/`...)
	dst = appendUnquoted(dst, img.ID)
	dst = append(dst, `/file","schema":"/v2/schemas/image"}`...)
	return dst
}

// appendField appends ,"key":value (the first field, id, has no comma).
func appendField(dst []byte, key, value string, nullable bool) []byte {
	if key != "id" {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	if nullable && value == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, value)
}

func appendNullInt(dst []byte, p *int64) []byte {
	if p == nil {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, *p, 10)
}

// appendUnquoted appends the escaped content of a JSON string without the
// quotes.
func appendUnquoted(dst []byte, s string) []byte {
	q := appendString(nil, s)
	return append(dst, q[1:len(q)-1]...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json
// (without its HTML escaping): quotes, backslashes, control characters,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// imageJSON is an image document already encoded, for embedding in values
// given to encoding/json.
func imageJSON(img *Image) json.RawMessage {
	return appendImage(make([]byte, 0, 768), img)
}
