package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Stable error codes of refusals that happen outside the policy. They appear in the JSON
// error body, the decision event and the metrics, so they never change meaning.
const (
	codeBadPath           = "bad_path"
	codeBadQuery          = "bad_query"
	codeBadBody           = "bad_body"
	codeBodyTooLarge      = "body_too_large"
	codeUnsupportedMedia  = "unsupported_media_type"
	codeNotFound          = "not_found"
	codeMethodNotAllowed  = "method_not_allowed"
	codeOverloaded        = "overloaded"
	codePolicyError       = "policy_error"
	codeEnrichError       = "enrichment_error"
	codeUpstreamError     = "upstream_error"
	codeUpstreamTimeout   = "upstream_timeout"
	codeUpstreamBadAnswer = "upstream_bad_response"
	codeInternal          = "internal_error"
	codeStreamAborted     = "stream_aborted"
	codeRequestTimeout    = "request_timeout"
)

// errorBody is the shape of every error imagegate writes itself. It follows the shape
// OpenStack services use for JSON errors ({"error": {"code", "title", "message"}}) and
// adds the stable machine-readable type.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      int      `json:"code"`
	Title     string   `json:"title"`
	Message   string   `json:"message"`
	Type      string   `json:"type"`
	Reasons   []string `json:"reasons,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

// writeError writes a JSON error. Headers already set on w (WWW-Authenticate, Allow) stay.
func writeError(w http.ResponseWriter, status int, code, message string, reasons []string, requestID string) {
	body, err := json.Marshal(errorBody{Error: errorDetail{
		Code:      status,
		Title:     http.StatusText(status),
		Message:   message,
		Type:      code,
		Reasons:   reasons,
		RequestID: requestID,
	}})
	if err != nil {
		// Cannot happen with these field types; still answer.
		body = []byte(`{"error":{"code":500,"title":"Internal Server Error","message":"error encoding failed","type":"internal_error"}}`)
		status = http.StatusInternalServerError
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
