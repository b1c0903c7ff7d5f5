//go:build !linux

package onebox

import (
	"context"
	"fmt"
	"net"
	"runtime"
)

func dialInNamespace(context.Context, string, string) (net.Conn, error) {
	return nil, fmt.Errorf("%w: network namespaces are Linux only (this is %s)", ErrNetNSUnavailable, runtime.GOOS)
}
