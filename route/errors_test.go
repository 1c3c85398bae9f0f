package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{CodeBadPath, http.StatusBadRequest},
		{CodeBadQuery, http.StatusBadRequest},
		{CodeTooManyParams, http.StatusBadRequest},
		{CodeBadParam, http.StatusBadRequest},
		{CodeMethodOverride, http.StatusBadRequest},
		{CodeMethodNotAllowed, http.StatusMethodNotAllowed},
		{CodeNotFound, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			e := newError(tt.code, "msg")
			if got := e.Status(); got != tt.status {
				t.Errorf("Status() = %d, want %d", got, tt.status)
			}
			wrapped := fmt.Errorf("proxy: %w", e)
			var got *Error
			if !errors.As(wrapped, &got) || got.Code != tt.code {
				t.Errorf("errors.As lost the code")
			}
			if want := "route: " + tt.code + ": msg"; e.Error() != want {
				t.Errorf("Error() = %q, want %q", e.Error(), want)
			}
		})
	}
}

func TestErrorJSON(t *testing.T) {
	e := &Error{Code: CodeMethodNotAllowed, Message: "m", Allow: []string{"GET", "PUT"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":"method_not_allowed","message":"m","allow":["GET","PUT"]}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

func TestBodyString(t *testing.T) {
	tests := []struct {
		body Body
		want string
	}{
		{BodyNone, "none"},
		{BodyJSON, "json"},
		{BodyPatch, "patch"},
		{BodyData, "data"},
		{Body(42), "Body(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.body.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			b, err := tt.body.MarshalText()
			if !tt.body.valid() {
				if err == nil {
					t.Errorf("MarshalText of invalid body kind succeeded")
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Errorf("MarshalText() = %q, %v", b, err)
			}
		})
	}
}
