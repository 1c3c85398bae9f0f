package proxy

import (
	"encoding/json"
	"fmt"
)

// Reading the fields the obligations decide on.
//
// encoding/json matches object keys to struct fields case-insensitively, with Unicode
// folding ("Visibility", "VISIBILITY" and "viſibility" all fill a field tagged
// "visibility"), and the last match wins. An image's custom properties are keys of the
// same object as its core fields, so a property named "Visibility" serialised after the
// core "visibility" would decide the filter while every client — Glance's own, Python's
// json, a browser — reads the core field. The obligations therefore read exactly the
// names they mean, as those clients do.

// exactString reads the string field name of a JSON object; ok is false when it is
// absent or null.
func exactString(raw []byte, name string) (v string, ok bool, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", false, err
	}
	ok, err = fieldString(obj, name, &v)
	return v, ok, err
}

// fieldString sets *dst to the string obj[name]; absent or null leaves it unset.
func fieldString(obj map[string]json.RawMessage, name string, dst *string) (bool, error) {
	raw, found := obj[name]
	if !found || string(raw) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, fmt.Errorf("%s is not a string", name)
	}
	return true, nil
}
