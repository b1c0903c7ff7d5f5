package meta

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// The meta server's Prometheus series (internal/metrics) are updated by the
// controller, each from the one place that knows the value:
//
//	is_leader, level, nodes, partitions  every planning round (leader only);
//	                                     is_leader drops to 0 on StepDown
//	reconfigurations                     every configuration change written
//	beacon gap                           every beacon, leader or follower
//
// Only the leader plans, so a follower's level, nodes and partitions keep
// the values of its last term; the dashboard reads them through is_leader.

// partitionHealths are the values of the partitions gauge's health label,
// as `ls -d` counts them.
const (
	healthFully = "fully_healthy"
	healthUn    = "unhealthy"
	healthWrite = "write_unhealthy"
	healthRead  = "read_unhealthy"
)

// noteBeaconLocked records the time since node's previous beacon to this
// server. The first beacon of a node (or the first since this server
// started) has no gap. c.mu must be held.
func (c *Controller) noteBeaconLocked(info *senderInfo, now time.Time) {
	if !info.lastBeacon.IsZero() {
		c.cfg.Metrics.BeaconGap.Observe(now.Sub(info.lastBeacon).Seconds())
	}
	info.lastBeacon = now
}

// countReconfiguration counts a configuration change the store took, once
// per action by its Pegasus config type name (CT_ASSIGN_PRIMARY, ...): one
// write may carry several actions, such as a downgrade and a new primary.
func (c *Controller) countReconfiguration(p decide.Proposal) {
	for _, a := range p.Actions {
		c.cfg.Metrics.Reconfigurations.WithLabelValues("CT_" + a.Type.String()).Inc()
	}
}

// refreshGaugesLocked sets the leader's gauges after a planning round:
// level is the effective level the round acted on. c.mu must be held.
func (c *Controller) refreshGaugesLocked(level decide.Level) {
	m := c.cfg.Metrics
	m.IsLeader.Set(1)
	m.Level.Set(float64(level))
	alive, total := c.fd.Counts()
	m.Nodes.WithLabelValues("alive").Set(float64(alive))
	m.Nodes.WithLabelValues("dead").Set(float64(total - alive))
	var fully, write, read int
	layout := c.cache.layout
	for i := range layout.Len() {
		h := decide.HealthOf(layout.At(i))
		if h.FullyHealthy {
			fully++
		}
		if h.WriteUnhealthy {
			write++
		}
		if h.ReadUnhealthy {
			read++
		}
	}
	m.Partitions.WithLabelValues(healthFully).Set(float64(fully))
	m.Partitions.WithLabelValues(healthUn).Set(float64(layout.Len() - fully))
	m.Partitions.WithLabelValues(healthWrite).Set(float64(write))
	m.Partitions.WithLabelValues(healthRead).Set(float64(read))
}

// noteSteppedDown marks this server a follower in the series.
func (c *Controller) noteSteppedDown() {
	c.cfg.Metrics.IsLeader.Set(0)
	c.cfg.Metrics.KnobOverride.Reset()
}
