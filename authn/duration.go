package authn

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in configuration as a Go duration
// string ("30s", "1m", "1h30m").
//
// It exists because decoding a bare YAML number into a time.Duration silently
// yields nanoseconds ("leeway: 30" would be 30ns); Duration refuses numbers
// without a unit instead.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText renders d as a duration string, for YAML and JSON output.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration string such as "30s".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a unit, e.g. \"30s\"): %w", text, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML parses a YAML scalar as a duration string.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as \"30s\"", node.Line)
	}
	if err := d.UnmarshalText([]byte(node.Value)); err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	return nil
}
