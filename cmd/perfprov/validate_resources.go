package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// maxValidatedHosts bounds how many hosts validate prepares resources for (as hcl.Load bounds
// its own offline evaluation).
const maxValidatedHosts = 200

// errNoDownload is what validate's downloader answers: validate never fetches a source archive.
var errNoDownload = errors.New("validate does not download")

// refuseTransport is an http.RoundTripper that sends nothing.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errNoDownload }

// checkResources runs the rules plan runs on each resource before it reads a host (the
// constructors of provision/resource: names, paths, modes, single-line values, durations...) for
// every host of the spec, evaluated without facts. A resource with an attribute known only after
// facts is left to plan. Each problem is reported once, at the resource block, naming the hosts
// it happens for when it is not all of them.
func checkResources(sp *hcl.Spec) hcl2.Diagnostics {
	hosts := sp.Hosts
	if len(hosts) > maxValidatedHosts {
		hosts = hosts[:maxValidatedHosts]
	}
	env := &resource.Env{
		Downloader:     &resource.Downloader{Client: &http.Client{Transport: refuseTransport{}}},
		DepFingerprint: func(string) string { return "" },
	}
	type key struct {
		file  string
		start int
		msg   string
	}
	var order []*hcl2.Diagnostic
	var keys []key
	perHost := map[key][]string{}
	for _, h := range hosts {
		hc, diags := sp.Evaluate(h.Name, cty.DynamicVal)
		if diags.HasErrors() || hc == nil {
			continue // Load has reported it
		}
		for _, r := range hc.Resources {
			d := checkResource(r, env)
			if d == nil {
				continue
			}
			k := key{d.Subject.Filename, d.Subject.Start.Byte, d.Detail}
			if _, ok := perHost[k]; !ok {
				order, keys = append(order, d), append(keys, k)
			}
			perHost[k] = append(perHost[k], h.Name)
		}
	}
	for i, d := range order {
		d.Detail += hostsNote(perHost[keys[i]], len(hosts))
	}
	return order
}

// checkResource prepares r as plan does and turns a refusal into a diagnostic at its block.
func checkResource(r *spec.Resource, env *resource.Env) *hcl2.Diagnostic {
	for _, v := range r.Attrs {
		if v != cty.NilVal && !v.IsWhollyKnown() {
			return nil
		}
	}
	_, err := resource.New(r, env)
	if err == nil || errors.Is(err, errNoDownload) {
		return nil
	}
	rng := r.Range
	return &hcl2.Diagnostic{
		Severity: hcl2.DiagError,
		Summary:  fmt.Sprintf("Invalid %s resource", r.Type),
		Detail:   fmt.Sprintf("%s: %s.", r.Addr, strings.TrimSuffix(redactSensitive(err.Error(), r), ".")),
		Subject:  &rng,
	}
}

// redactSensitive replaces the values of r's sensitive string attributes in msg, raw or quoted.
func redactSensitive(msg string, r *spec.Resource) string {
	for name, sensitive := range r.Sensitive {
		v, ok := r.Attrs[name]
		if !sensitive || !ok || v == cty.NilVal || v.IsNull() {
			continue
		}
		v, _ = v.Unmark()
		if v.Type() != cty.String || v.AsString() == "" {
			continue
		}
		s := v.AsString()
		quoted := strconv.Quote(s)
		msg = strings.ReplaceAll(msg, quoted[1:len(quoted)-1], redact.InText)
		msg = strings.ReplaceAll(msg, s, redact.InText)
	}
	return msg
}

// hostsNote names the hosts a problem happens for, when it is not all of the total checked.
func hostsNote(names []string, total int) string {
	if len(names) >= total {
		return ""
	}
	shown := names
	if len(shown) > 3 {
		shown = shown[:3]
	}
	q := make([]string, len(shown))
	for i, n := range shown {
		q[i] = strconv.Quote(n)
	}
	note := " This happens for host " + strings.Join(q, ", ")
	if len(names) > len(shown) {
		note += fmt.Sprintf(" and %d more", len(names)-len(shown))
	}
	return note + "."
}
