package view

import "io"

// FormatVersion is the version of every -json format, MAJOR.MINOR. A reader of 1.x reads any
// 1.y: a minor version only adds (fields, line types, values of an enumeration a reader must
// already treat as open); anything that would mislead a 1.x reader is 2.0. The schema of each
// line type is docs/json/perfprov.schema.json.
const FormatVersion = "1.0"

// HeaderType is the "type" of the header line (the first line of every -json stream).
const HeaderType = "version"

// The kinds of -json stream a header names, beyond those report merges (StreamApply...).
const (
	StreamPlanOffline = "plan_offline" // plan -offline -json: one document
	StreamValidate    = "validate"     // validate -json: one document
	StreamVersion     = "version"      // version -json: the header alone
	StreamPlanFile    = "plan_file"    // show -json: the saved plan file, one document
)

// Header is the first line of every -json stream: which format follows and who wrote it.
type Header struct {
	FormatVersion string `json:"format_version"`
	Type          string `json:"type"`
	Perfprov      string `json:"perfprov"`           // the version of perfprov that wrote it
	Revision      string `json:"revision,omitempty"` // its VCS revision, when the build recorded one
	Command       string `json:"command"`            // the command that printed it: apply, report...
	// Stream is the kind of what follows (report: the kind it merged); absent only where report
	// merged outputs that hold no host and have no header (written before format 1.0).
	Stream string `json:"stream,omitempty"`
}

// NewHeader is the header of a stream of kind stream printed by command.
func NewHeader(perfprov, revision, command, stream string) Header {
	return Header{FormatVersion: FormatVersion, Type: HeaderType, Perfprov: perfprov, Revision: revision, Command: command, Stream: stream}
}

// WriteHeader prints h as the first line of a -json stream.
func WriteHeader(w io.Writer, h Header) { WriteJSONLine(w, h) }
