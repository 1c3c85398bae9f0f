// Package audit writes imagegate's decision log: one JSON event per request decided,
// in the shape of OPA's decision-log events plus imagegate's own fields, so that the
// tooling that reads OPA decision logs reads these too. Tokens are never part of an event.
package audit

import (
	"time"

	"github.com/google/uuid"
)

// Event is one decision. Field names follow OPA's decision-log events where they overlap
// (decision_id, timestamp, path, input, result, metrics, labels).
type Event struct {
	DecisionID string            `json:"decision_id"`
	Timestamp  time.Time         `json:"timestamp"`
	Path       string            `json:"path"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Revision is the policy revision that decided.
	Revision  string `json:"revision,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Input is what the decision was about; never the token.
	Input EventInput `json:"input"`
	// Result is the decision.
	Result EventResult `json:"result"`
	// Metrics are timings in nanoseconds, named as OPA names its timers.
	Metrics map[string]int64 `json:"metrics,omitempty"`
	// UpstreamStatus is the upstream's status code for forwarded calls (0 when not forwarded).
	UpstreamStatus int `json:"upstream_status,omitempty"`
	// Filtered counts list items removed by the response obligation.
	Filtered int `json:"filtered,omitempty"`
	// Shadow is the shadow policy's decision, when one runs (never enforced).
	Shadow *EventResult `json:"shadow,omitempty"`
}

// EventInput is the part of the policy input an auditor needs.
type EventInput struct {
	Dialect    string            `json:"dialect,omitempty"`
	Operation  string            `json:"operation,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Deprecated bool              `json:"deprecated,omitempty"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Query      string            `json:"query,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	Principal  *EventPrincipal   `json:"principal,omitempty"`
	// ImageOwner and ImageVisibility describe the image the call touched, when looked up.
	ImageOwner      string `json:"image_owner,omitempty"`
	ImageVisibility string `json:"image_visibility,omitempty"`
}

// EventPrincipal is the caller, without its token.
type EventPrincipal struct {
	User     string   `json:"user,omitempty"`
	Tenant   string   `json:"tenant,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Reseller string   `json:"reseller,omitempty"`
	Issuer   string   `json:"issuer,omitempty"`
}

// EventResult is the outcome.
type EventResult struct {
	Allow   bool     `json:"allow"`
	Status  int      `json:"status"`
	Code    string   `json:"code,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	Hide    bool     `json:"hide,omitempty"`
	// DryRun marks a denial that was forwarded because of policy.dry_run.
	DryRun bool `json:"dry_run,omitempty"`
}

// NewDecisionID returns a random UUID for an event.
func NewDecisionID() string { return uuid.NewString() }
