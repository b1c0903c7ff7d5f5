package security

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// HTTP limits every server's HTTP listener uses.
const (
	// HTTPReadHeaderTimeout and HTTPReadTimeout bound how long a client
	// may take to send a request's header and whole request.
	HTTPReadHeaderTimeout = 10 * time.Second
	HTTPReadTimeout       = 30 * time.Second
	// HTTPWriteTimeout bounds writing a response (the API's answers are
	// small; profiles are served on their own listener).
	HTTPWriteTimeout = 60 * time.Second
	// HTTPIdleTimeout closes keep-alive connections idle this long.
	HTTPIdleTimeout = 120 * time.Second
	// HTTPMaxHeaderBytes bounds a request's header.
	HTTPMaxHeaderBytes = 64 << 10
	// HTTPMaxBodyBytes bounds the body of an admin POST.
	HTTPMaxBodyBytes = 1 << 20
)

// NewHTTPServer returns an http.Server with the limits above.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: HTTPReadHeaderTimeout,
		ReadTimeout:       HTTPReadTimeout,
		WriteTimeout:      HTTPWriteTimeout,
		IdleTimeout:       HTTPIdleTimeout,
		MaxHeaderBytes:    HTTPMaxHeaderBytes,
	}
}

// HTTPAdmin wraps h, an admin endpoint (one that changes something), so
// that it serves only admin callers: a client certificate of role admin
// or "Authorization: Bearer <admin token>". Cross-site browser requests are
// refused (net/http's CrossOriginProtection: a page elsewhere cannot make
// an operator's browser post to the cluster), the body is bounded, and
// every request is recorded in the audit log.
func (a *Authorizer) HTTPAdmin(action string, h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := caller{peer: r.RemoteAddr, token: bearerToken(r.Header.Get("Authorization"))}
		c.id, c.hasCert = HTTPIdentity(r)
		entry := Entry{Peer: c.peer, Action: action, Args: r.Method + " " + r.URL.RequestURI()}
		if err := cop.Check(r); err != nil {
			entry.Who, entry.Result = c.who(), "denied: cross-origin request"
			a.cfg.Audit.Record(entry)
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		name, err := a.adminName(c)
		if err != nil {
			entry.Who, entry.Result = c.who(), "denied: "+err.Error()
			a.cfg.Audit.Record(entry)
			code := http.StatusForbidden
			if errors.Is(err, ErrUnauthenticated) {
				code = http.StatusUnauthorized
				w.Header().Set("WWW-Authenticate", `Bearer realm="pegasus"`)
			}
			http.Error(w, err.Error(), code)
			return
		}
		entry.Who = name
		r.Body = http.MaxBytesReader(w, r.Body, HTTPMaxBodyBytes)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		entry.Took = time.Since(start)
		entry.Result = fmt.Sprintf("http %d", rec.code)
		a.cfg.Audit.Record(entry)
	})
}

// statusRecorder remembers the status an admin handler answered.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// IsAdminHTTP reports whether an HTTP caller holds an admin credential
// (or the server checks none).
func (a *Authorizer) IsAdminHTTP(r *http.Request) bool {
	c := caller{token: bearerToken(r.Header.Get("Authorization"))}
	c.id, c.hasCert = HTTPIdentity(r)
	_, err := a.adminName(c)
	return err == nil
}
