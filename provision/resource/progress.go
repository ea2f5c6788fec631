package resource

import "io"

// progressReader counts what an upload has read of its content, for Target.Progress.
type progressReader struct {
	r           io.Reader
	sent, total int64
	report      func(sent, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	p.report(p.sent, p.total)
	return n, err
}

// Size is what is left to read: SFTP sizes its concurrent writes by it, as it does for the
// reader wrapped.
func (p *progressReader) Size() int64 { return p.total - p.sent }

// withProgress is r, reporting to t.Progress as it is read (r itself when no one listens).
func (t *Target) withProgress(r io.Reader, total int64) io.Reader {
	if t.Progress == nil {
		return r
	}
	return &progressReader{r: r, total: total, report: t.Progress}
}
