// Package redact spells what perfprov prints in place of a sensitive value. It is a leaf that
// the spec loader, the resources, the engine and the CLI all import, so that the placeholder is
// written once.
package redact

const (
	// Placeholder replaces a sensitive value where a value stands: plan -offline, the audit log,
	// -json events.
	Placeholder = "(sensitive)"
	// InText replaces a sensitive value inside a sentence: diagnostics, the online plan.
	InText = "(sensitive value)"
)
