package imageapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ErrorBody is the JSON document of every error response:
// {"error": {"code": 404, "title": "Not Found", "message": "..."}}.
// Real Glance answers HTML with the same status codes; this fake answers
// JSON so that tests and the proxy can read the reason.
type ErrorBody struct {
	// Error describes the failure.
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of an ErrorBody.
type ErrorDetail struct {
	// Code is the HTTP status code.
	Code int `json:"code"`
	// Title is the status text, e.g. "Forbidden".
	Title string `json:"title"`
	// Message explains the failure, worded like Glance's.
	Message string `json:"message"`
}

// apiError is an error that knows its HTTP status.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, format, args...)
}

func conflict(format string, args ...any) *apiError {
	return errorf(http.StatusConflict, format, args...)
}

func tooLarge(format string, args ...any) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, format, args...)
}

// writeError writes an ErrorBody with the given status.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: code, Title: http.StatusText(code), Message: msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeAPIError writes e as an ErrorBody.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	writeError(w, e.code, e.msg)
}

// writeJSON writes v as a JSON document with the given status.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot encode response: "+err.Error())
		return
	}
	writeRawJSON(w, code, body)
}

// writeRawJSON writes an already encoded JSON document.
func writeRawJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// jsonErrorWriter turns the plain-text errors of http.ServeMux (404, 405)
// into ErrorBody documents. Redirects and successes pass through.
type jsonErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.swallow = true
	msg := "The resource could not be found."
	if code == http.StatusMethodNotAllowed {
		msg = "The method is not allowed for this resource."
	}
	writeError(w.ResponseWriter, code, msg)
}

func (w *jsonErrorWriter) Write(p []byte) (int, error) {
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}
