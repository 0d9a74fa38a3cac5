package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"hosho-intake/verifier"
)

// stallPolls is how many polls in a row may take in nothing of new mail before the daemon
// reports itself unhealthy. It is past maxRecordAttempts, so that setting a message aside
// has had its chance: a stall that outlasts it is something only an admin can cure.
const stallPolls = maxRecordAttempts + 2

// progress tracks whether polling takes in new mail.
type progress struct {
	// polls counts the polls in a row that had new mail and took none of it in: stuck at
	// one message, or out of time before recording any; stuck is where.
	polls int
	stuck uint32
}

// observe counts one poll's result. A poll that fails before reaching any message (the
// server is down) is no stall: a restart would not help, and the digest already warns of
// failing polls.
func (p *progress) observe(res Result, err error) {
	took := res.Recorded > 0 || res.Duplicates > 0
	switch {
	case err != nil && !took && (res.Stuck != 0 || errors.Is(err, context.DeadlineExceeded)):
		if res.Stuck != p.stuck {
			p.polls = 0
		}
		p.polls++
		p.stuck = res.Stuck
	case err == nil || took:
		p.polls, p.stuck = 0, 0
	}
}

// stalled says why polling makes no progress, or "": a poll running since polling (zero:
// none) far past timeout, or stallPolls polls in a row without progress.
func (p *progress) stalled(now, polling time.Time, timeout time.Duration) string {
	switch {
	case !polling.IsZero() && now.Sub(polling) >= timeout+time.Minute:
		return fmt.Sprintf("a poll has been running since %s, past the poll timeout of %v", polling.Format(time.DateTime), timeout)
	case p.polls >= stallPolls && p.stuck != 0:
		return fmt.Sprintf("%d polls in a row failed at the message with UID %d", p.polls, p.stuck)
	case p.polls >= stallPolls:
		return fmt.Sprintf("%d polls in a row ran out of time before taking in any message", p.polls)
	}
	return ""
}

// Alive reports whether the daemon makes progress: the state answers, no poll has been
// running for longer than the poll timeout allows (a wedged goroutine, which only a restart
// cures), and polling is not stalled (stallPolls polls in a row failed at the same message
// or ran out of time before recording any). The systemd watchdog and /healthz ask it.
func (s *Service) Alive(now time.Time) bool {
	if err := s.Ledger.DB().View(func(*bolt.Tx) error { return nil }); err != nil {
		return false
	}
	return s.Health(now).Stalled == ""
}

// metrics is what the daemon exports to Prometheus; most of it is read from the state at
// scrape time, so it survives restarts and never disagrees with status.
type metrics struct {
	s            *Service
	pollDuration prometheus.Histogram

	messages, notices, decisions, replies, pending, oldest, sinceOK, failures *prometheus.Desc
}

func newMetrics(s *Service) *metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hosho_intake_"+name, help, labels, nil)
	}
	return &metrics{
		s: s,
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hosho_intake_poll_duration_seconds",
			Help: "Duration of mailbox polls.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)}),
		messages:  d("messages_total", "Messages taken in from the mailbox, by outcome.", "outcome"),
		notices:   d("notices_total", "Notices filed in the verification queue, by 区分 (category).", "category"),
		decisions: d("decisions_total", "Notices by queue state and decision reason (\"\" for none).", "state", "reason"),
		replies:   d("outbox_messages_total", "Outgoing mail by final state (sent, failed, bounced).", "state"),
		pending:   d("outbox_pending", "Outgoing mail waiting to be sent or retried."),
		oldest:    d("queue_oldest_waiting_seconds", "Age of the oldest notice waiting for a clerk."),
		sinceOK:   d("seconds_since_last_successful_poll", "Time since the last poll that succeeded (-1: none yet)."),
		failures:  d("poll_failures", "Polls failed in a row."),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.pollDuration.Describe(ch)
	for _, d := range []*prometheus.Desc{m.messages, m.notices, m.decisions, m.replies, m.pending, m.oldest, m.sinceOK, m.failures} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.pollDuration.Collect(ch)
	now := time.Now()
	s := m.s
	if st, err := s.Ledger.Stats(); err == nil {
		for outcome, n := range st.Outcomes {
			ch <- prometheus.MustNewConstMetric(m.messages, prometheus.CounterValue, float64(n), outcome)
		}
	}
	s.Ledger.DB().View(func(tx *bolt.Tx) error {
		items, err := s.Queue.List(tx, verifier.StateQueued, verifier.StateNeedsReview, verifier.StateVerified, verifier.StateRejected)
		if err != nil {
			return err
		}
		categories := map[string]int{}
		decisions := map[[2]string]int{}
		var oldest time.Time
		for _, it := range items {
			categories[it.Notice.Category]++
			if len(it.Decision.Reasons) == 0 {
				decisions[[2]string{it.State, ""}]++
			}
			for _, r := range it.Decision.Reasons {
				decisions[[2]string{it.State, r}]++
			}
			if it.Waiting() && (oldest.IsZero() || it.Received.Before(oldest)) {
				oldest = it.Received
			}
		}
		for c, n := range categories {
			ch <- prometheus.MustNewConstMetric(m.notices, prometheus.CounterValue, float64(n), c)
		}
		for k, n := range decisions {
			ch <- prometheus.MustNewConstMetric(m.decisions, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
		age := 0.0
		if !oldest.IsZero() {
			age = now.Sub(oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age)
		if st, err := s.Outbox.Stats(tx); err == nil {
			ch <- prometheus.MustNewConstMetric(m.replies, prometheus.CounterValue, float64(st.Sent), "sent")
			ch <- prometheus.MustNewConstMetric(m.replies, prometheus.CounterValue, float64(st.Failed), "failed")
			ch <- prometheus.MustNewConstMetric(m.replies, prometheus.CounterValue, float64(st.Bounced), "bounced")
			ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(st.Pending))
		}
		return nil
	})
	h := s.Health(now)
	since := -1.0
	if !h.LastOK.IsZero() {
		since = now.Sub(h.LastOK).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(m.sinceOK, prometheus.GaugeValue, since)
	ch <- prometheus.MustNewConstMetric(m.failures, prometheus.GaugeValue, float64(h.Failures))
}

// Metrics is the collector to register with a Prometheus registry.
func (s *Service) Metrics() prometheus.Collector { return s.metrics }
