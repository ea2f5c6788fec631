package view

import (
	"encoding/json"
	"io"

	"github.com/perfprov/perfprov/hcl"
)

// ValidateResult is what validate -json prints after the header line.
type ValidateResult struct {
	Valid        bool                 `json:"valid"`
	ErrorCount   int                  `json:"error_count"`
	WarningCount int                  `json:"warning_count"`
	Diagnostics  []hcl.JSONDiagnostic `json:"diagnostics"`
}

// WriteValidateJSON prints r on one line.
func WriteValidateJSON(w io.Writer, r ValidateResult) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
