package onebox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// StatusJSON is the document `pegasus onebox status --json` prints.
type StatusJSON struct {
	// Network is the onebox's network mode: NetworkLoopback or
	// NetworkNetNS.
	Network string `json:"network"`
	// ClusterID is the id the first meta server fixed in etcd; empty when
	// no meta server answers.
	ClusterID string        `json:"cluster_id"`
	Processes []ProcessJSON `json:"processes"`
}

// ProcessJSON is one process in StatusJSON.
type ProcessJSON struct {
	Name           string `json:"name"`
	Role           string `json:"role"`
	Address        string `json:"address"`
	HTTPAddress    string `json:"http_address"`
	PegasusAddress string `json:"pegasus_address"`
	PID            int    `json:"pid"`
	Alive          bool   `json:"alive"`
	Binary         string `json:"binary"`
	LogFile        string `json:"log_file"`
}

// WriteStatusJSON writes the onebox's network mode and procs as indented
// StatusJSON.
func WriteStatusJSON(w io.Writer, network, clusterID string, procs []ProcessStatus) error {
	out := StatusJSON{Network: network, ClusterID: clusterID, Processes: make([]ProcessJSON, len(procs))}
	for i, p := range procs {
		out.Processes[i] = ProcessJSON{
			Name: p.Name, Role: string(p.Role), Address: p.Address, HTTPAddress: p.HTTPAddress,
			PegasusAddress: p.PegasusAddress, PID: p.PID, Alive: p.Alive, Binary: p.Binary, LogFile: p.LogFile,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteStatusTable writes procs as aligned columns, with Pegasus' ALIVE
// and UNALIVE for the status, after a line naming the network mode when it
// is not the default loopback.
func WriteStatusTable(w io.Writer, network, clusterID string, procs []ProcessStatus) error {
	if clusterID != "" {
		fmt.Fprintf(w, "cluster_id: %s\n", clusterID)
	}
	if network == NetworkNetNS {
		fmt.Fprintln(w, "network: netns (every replica server in its own network namespace; `pegasus bench scenario partition-primary --network netns` cuts one off)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\trole\taddress\thttp_address\tpegasus_address\tpid\tstatus")
	for _, p := range procs {
		state := "ALIVE"
		if !p.Alive {
			state = "UNALIVE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", p.Name, p.Role, orDash(p.Address), orDash(p.HTTPAddress), orDash(p.PegasusAddress), p.PID, state)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ClusterID asks the meta servers for the cluster id fixed when the onebox
// was first started; "" when none answers (the onebox is stopped).
func (c *Cluster) ClusterID(ctx context.Context) string {
	for _, addr := range c.MetaAddrs() {
		resp, err := dial.CallServer(ctx, c.conns, addr, (*dial.Conns).Meta,
			func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
				return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
			})
		if err == nil && resp.GetClusterId() != "" {
			return resp.GetClusterId()
		}
	}
	return ""
}
