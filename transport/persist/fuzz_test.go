package persist

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAttachRequest decodes the daemon's request from arbitrary bytes as the daemon does
// (awaitAttach: the JSON payload of the attach request, since protocol 2 replaced the length-
// prefixed frames of readFrame). Nothing may panic; what is not a JSON object is an error; a
// request that decodes encodes (as sendAttach does) to one that decodes to the same request, with
// the same connection key. The client's side, the answer, is decoded too. Seeds:
// testdata/fuzz/FuzzAttachRequest.
func FuzzAttachRequest(f *testing.F) {
	b, err := json.Marshal(&persistRequest{Version: persistVersion, Name: "web1", Target: persistEndpoint{Address: "192.0.2.1", Port: 22, User: "root"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp persistResponse
		_ = json.Unmarshal(data, &resp)
		var req persistRequest
		err := json.Unmarshal(data, &req)
		trimmed := bytes.TrimSpace(data)
		if err == nil && (len(trimmed) == 0 || (trimmed[0] != '{' && !bytes.Equal(trimmed, []byte("null")))) {
			t.Fatalf("%q is not a JSON object, but decoded", data)
		}
		if err != nil {
			return
		}
		want, err := json.Marshal(&req)
		if err != nil {
			t.Fatalf("encode a decoded request: %v", err)
		}
		var again persistRequest
		if err := json.Unmarshal(want, &again); err != nil {
			t.Fatalf("decode an encoded request %s: %v", want, err)
		}
		got, _ := json.Marshal(&again)
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip: %s, want %s", got, want)
		}
		if again.key() != req.key() {
			t.Fatalf("the connection key changed in the round trip of %s", want)
		}
		cfg := req.config()
		if cfg.Name != req.Name || cfg.Endpoint.Address != req.Target.Address || len(cfg.Jump) != len(req.Jump) {
			t.Fatalf("config() of %s: %+v", want, cfg)
		}
	})
}
