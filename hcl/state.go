package hcl

// specState is the loader's internal state; the loader fills it in.
type specState struct{}
