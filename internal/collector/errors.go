package collector

import "errors"

// Sentinel errors of the collector. Every error the package returns wraps
// one of them, so callers and the HTTP layer branch with errors.Is.
var (
	// ErrInvalidOptions: Options that cannot run a collector.
	ErrInvalidOptions = errors.New("collector: invalid options")
	// ErrBadWindow: an availability window that cannot be parsed, is not
	// positive, or reaches further back than the collector remembers.
	ErrBadWindow = errors.New("collector: bad availability window")
	// ErrBadProgress: a rolling-update progress report that is not a JSON
	// object with a status, or is too large.
	ErrBadProgress = errors.New("collector: bad rolling progress")
	// ErrMetaUnavailable: no meta server answered.
	ErrMetaUnavailable = errors.New("collector: no meta server answered")
	// ErrMeta: a meta server answered with an error code.
	ErrMeta = errors.New("collector: meta server error")
	// ErrStaleRead: a probe read did not return the value the probe wrote
	// and the cluster acknowledged just before. It means an acknowledged
	// write was lost or a read was served by a replica that missed it.
	ErrStaleRead = errors.New("collector: probe read missed an acknowledged write")
	// ErrTableNotReady: the detection table was just created and some of
	// its partitions have no primary yet.
	ErrTableNotReady = errors.New("collector: detection table not ready")
	// ErrScrape: a replica server's /metrics could not be fetched or parsed.
	ErrScrape = errors.New("collector: scrape failed")
)
