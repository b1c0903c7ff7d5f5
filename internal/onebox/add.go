package onebox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/security"
)

// AddReplica adds a replica server to the onebox, as an operator adds a
// machine to scale a cluster out: a new process, replica<N>, configured
// like the first replica server (the same tuning, its own addresses, data
// directory and certificate), started and waited for until the meta
// leader lists it alive. It holds no replica until the balancer moves
// some onto it (pegasus balance). Not supported in netns mode, where each
// replica server needs its own namespace and veth pair.
func (c *Cluster) AddReplica(ctx context.Context) (Process, error) {
	var added Process
	err := c.update(func(st *State) error {
		if st.netns() {
			return fmt.Errorf("%w: adding a replica server to a netns onebox is not supported", ErrNetNSUnavailable)
		}
		replicas := st.ofRole(RoleReplica)
		if len(replicas) == 0 {
			return fmt.Errorf("%w: no replica server to copy the configuration of", ErrBadState)
		}
		template := replicas[0]
		next := 0
		for _, r := range replicas {
			if n, err := strconv.Atoi(strings.TrimPrefix(r.Name, "replica")); err == nil && n > next {
				next = n
			}
		}
		addrs, err := pickPorts(loopbackHost, 3)
		if err != nil {
			return err
		}
		p := Process{Name: "replica" + strconv.Itoa(next+1), Role: RoleReplica,
			Address: addrs[0], HTTPAddress: addrs[1], PegasusAddress: addrs[2], Binary: template.Binary}
		p.Dir = p.Name
		p.LogFile = filepath.Join(p.Name, p.Name+".log")
		if err := os.MkdirAll(filepath.Join(c.dir, p.Dir, processDataDir), 0o700); err != nil {
			return fmt.Errorf("onebox: %w", err)
		}
		if st.TLS {
			ca, err := security.LoadCA(filepath.Join(c.dir, certsDir))
			if err != nil {
				return fmt.Errorf("onebox: %w", err)
			}
			if err := issueFor(ca, p); err != nil {
				return err
			}
		}
		cfg := config.DefaultReplica()
		if err := config.Load(filepath.Join(c.dir, template.ConfigFile), &cfg); err != nil {
			return fmt.Errorf("onebox: reading %s's configuration: %w", template.Name, err)
		}
		cfg.Listen, cfg.HTTPListen, cfg.PegasusListen = p.Address, p.HTTPAddress, p.PegasusAddress
		cfg.DataDir = processDataDir
		cfg.Security = st.roleSecurity(&p)
		cfg.Zone = "" // a failure domain is the operator's to name
		if err := writeConfigFile(c.dir, st.ClusterName, &p, cfg); err != nil {
			return err
		}
		st.Processes = append(st.Processes, p)
		added = p
		return nil
	})
	if err != nil {
		return Process{}, err
	}
	c.mu.Lock()
	c.static = append(c.static, added)
	c.mu.Unlock()
	c.progress("added %s at %s", added.Name, added.Address)
	if err := c.StartNode(ctx, added.Name); err != nil {
		return added, err
	}
	return added, nil
}
