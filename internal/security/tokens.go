package security

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Tokens are the admin tokens a server accepts, read from a file and read
// again when it changes (so a token is added or revoked without a
// restart). A line holds a token, or a name and a token separated by
// spaces; the name (else the first 8 hex digits of the token's SHA-256)
// names the caller in the audit log. Empty lines and lines starting with
// '#' are ignored.
type Tokens struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	stamp   time.Time
	entries []tokenEntry
}

type tokenEntry struct {
	name   string
	digest [sha256.Size]byte
}

// minTokenLength refuses tokens too short to resist guessing.
const minTokenLength = 16

// LoadTokens reads the tokens file at path.
func LoadTokens(path string, log *slog.Logger) (*Tokens, error) {
	if log == nil {
		log = slog.Default()
	}
	t := &Tokens{path: path, log: log}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: admin tokens: %v", ErrTokens, err)
	}
	if err := t.load(fi.ModTime()); err != nil {
		return nil, err
	}
	t.checked = time.Now()
	return t, nil
}

func (t *Tokens) load(stamp time.Time) error {
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("%w: admin tokens: %v", ErrTokens, err)
	}
	var entries []tokenEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		var name, token string
		switch len(fields) {
		case 1:
			token = fields[0]
		case 2:
			name, token = fields[0], fields[1]
		default:
			return fmt.Errorf("%w: %s:%d: want a token, or a name and a token", ErrTokens, t.path, n)
		}
		if len(token) < minTokenLength {
			return fmt.Errorf("%w: %s:%d: token shorter than %d characters", ErrTokens, t.path, n, minTokenLength)
		}
		d := sha256.Sum256([]byte(token))
		if name == "" {
			name = "token:" + hex.EncodeToString(d[:4])
		}
		entries = append(entries, tokenEntry{name: name, digest: d})
	}
	if len(entries) == 0 {
		return fmt.Errorf("%w: %s holds no token", ErrTokens, t.path)
	}
	t.mu.Lock()
	t.entries, t.stamp = entries, stamp
	t.mu.Unlock()
	return nil
}

func (t *Tokens) refresh() {
	t.mu.Lock()
	if time.Since(t.checked) < reloadInterval {
		t.mu.Unlock()
		return
	}
	t.checked = time.Now()
	old := t.stamp
	t.mu.Unlock()
	fi, err := os.Stat(t.path)
	if err != nil || fi.ModTime().Equal(old) {
		return
	}
	if err := t.load(fi.ModTime()); err != nil {
		t.log.Warn("admin tokens file changed but cannot be used; keeping the previous tokens", "err", err)
		return
	}
	t.log.Info("admin tokens reloaded", "file", t.path)
}

// Check returns the name of the token's entry, comparing digests in
// constant time against every entry.
func (t *Tokens) Check(token string) (string, bool) {
	if t == nil || token == "" {
		return "", false
	}
	t.refresh()
	d := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	name, found := "", false
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			name, found = e.name, true
		}
	}
	return name, found
}

// ReadTokenFile returns the token a client presents, from a file holding
// it: the first line that is not empty or a comment, its last field (so
// the server's "name token" lines work too).
func ReadTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: token file: %v", ErrTokens, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		return f[len(f)-1], nil
	}
	return "", fmt.Errorf("%w: %s holds no token", ErrTokens, path)
}

// NewToken returns a random token: 32 bytes from crypto/rand, in hex.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// WriteTokenFile writes a new random token to path (mode 0600) and
// returns it.
func WriteTokenFile(path string) (string, error) {
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	content := "# admin token: pass it with --token-file or PEGASUS_TOKEN_FILE\n" + token + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("%w: %v", ErrTokens, err)
	}
	return token, nil
}
