package security

import (
	"log/slog"
	"os"

	"github.com/pegasus-go/pegasus/internal/dial"
)

// Environment variables a command-line tool reads its credentials from
// when no flag names them.
const (
	EnvToken     = "PEGASUS_TOKEN"
	EnvTokenFile = "PEGASUS_TOKEN_FILE"
	EnvTLSCA     = "PEGASUS_TLS_CA"
	EnvTLSCert   = "PEGASUS_TLS_CERT"
	EnvTLSKey    = "PEGASUS_TLS_KEY"
)

// ClientFiles name the credentials of a command-line tool (the shell,
// rolling-update, bench, the Redis proxy): an admin token file and a TLS
// identity.
type ClientFiles struct {
	// Token is the token itself (PEGASUS_TOKEN); it wins over TokenFile.
	Token     string
	TokenFile string
	TLS       Files
}

// Empty reports whether nothing is named.
func (f ClientFiles) Empty() bool { return f.Token == "" && f.TokenFile == "" && !f.TLS.Configured() }

// WithEnv fills what flags left empty from the environment.
func (f ClientFiles) WithEnv() ClientFiles {
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	if f.Token == "" && f.TokenFile == "" {
		f.Token = os.Getenv(EnvToken)
	}
	fill(&f.TokenFile, EnvTokenFile)
	fill(&f.TLS.CA, EnvTLSCA)
	fill(&f.TLS.Cert, EnvTLSCert)
	fill(&f.TLS.Key, EnvTLSKey)
	return f
}

// Load reads the credentials.
func (f ClientFiles) Load(log *slog.Logger) (dial.Credentials, error) {
	var c dial.Credentials
	if f.TLS.Configured() {
		t, err := LoadTLS(f.TLS, log)
		if err != nil {
			return c, err
		}
		c.TLS = t.ClientConfig()
	}
	if f.Token != "" {
		c.Token = f.Token
	} else if f.TokenFile != "" {
		tok, err := ReadTokenFile(f.TokenFile)
		if err != nil {
			return c, err
		}
		c.Token = tok
	}
	return c, nil
}
