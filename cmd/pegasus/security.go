package main

import (
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/security"
)

// serverSecurityFlags registers the flags every server role takes for its
// security keys; serverSecurityFields binds them for overrideFromFlags.
func serverSecurityFlags(f *pflag.FlagSet) {
	f.String("tls-ca", "", "PEM certificate authority of the cluster; with --tls-cert and --tls-key turns on mutual TLS (overrides tls_ca_file)")
	f.String("tls-cert", "", "PEM certificate of this server (overrides tls_cert_file)")
	f.String("tls-key", "", "PEM key of --tls-cert (overrides tls_key_file)")
	f.Bool("tls-require", false, "refuse plaintext connections (overrides tls_require)")
	f.String("admin-tokens-file", "", "file of accepted admin tokens (overrides admin_tokens_file)")
}

func serverSecurityFields(s *config.Security, fields map[string]any) map[string]any {
	fields["tls-ca"] = &s.TLSCAFile
	fields["tls-cert"] = &s.TLSCertFile
	fields["tls-key"] = &s.TLSKeyFile
	fields["tls-require"] = &s.TLSRequire
	fields["admin-tokens-file"] = &s.AdminTokensFile
	return fields
}

// serverSecurity reads a server's security keys; its audit log defaults to
// <dataDir>/audit.log.
func serverSecurity(s config.Security, l config.Limits, dataDir string, log *slog.Logger) (*security.Server, error) {
	audit := ""
	if dataDir != "" {
		audit = filepath.Join(dataDir, "audit.log")
	}
	return security.NewServer(s, l, audit, log)
}

// clientFlags registers the credential flags of a command-line tool.
func clientFlags(f *pflag.FlagSet, files *security.ClientFiles) {
	f.StringVar(&files.TokenFile, "token-file", "", "file holding the admin token (env "+security.EnvTokenFile+", or the token itself in "+security.EnvToken+"; default: a onebox's admin_token)")
	f.StringVar(&files.TLS.CA, "tls-ca", "", "PEM certificate authority of the cluster: connect over mutual TLS (env "+security.EnvTLSCA+")")
	f.StringVar(&files.TLS.Cert, "tls-cert", "", "PEM client certificate (env "+security.EnvTLSCert+")")
	f.StringVar(&files.TLS.Key, "tls-key", "", "PEM key of --tls-cert (env "+security.EnvTLSKey+")")
}

// clientCredentials loads a tool's credentials: flags, else the
// environment, else those of the onebox in oneboxDir (when it has any).
func clientCredentials(files security.ClientFiles, oneboxDir string) (dial.Credentials, error) {
	files = files.WithEnv()
	if files.Empty() && oneboxDir != "" {
		files = onebox.AdminFiles(oneboxDir)
	}
	return files.Load(slog.Default())
}

// endpointsOnebox is the onebox directory whose credentials a tool falls
// back on: the one its meta servers came from (--onebox DIR, or ./onebox),
// none when they were named otherwise.
func endpointsOnebox(e onebox.Endpoints, from string) string {
	switch {
	case e.OneboxDir != "":
		return e.OneboxDir
	case strings.HasPrefix(from, onebox.DefaultDir+"/"):
		return onebox.DefaultDir
	}
	return ""
}
