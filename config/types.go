package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	// The default schedule zone is Asia/Tokyo; embedding the zone database keeps it
	// loadable in a minimal container or a chroot without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Secret holds a password, token or client secret read from a file or a systemd credential.
// Every way of printing it (fmt verbs including %#v, slog, encoding/json, TOML or text
// encoders) gives "<secret>", so a Config can be logged or dumped whole without leaking it;
// only Reveal gives the value, and it is meant for the one place that sends it to a server.
type Secret struct {
	v string
}

const redacted = "<secret>"

// NewSecret wraps s; for tests and for tokens obtained at run time (OAuth2).
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret was loaded.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb, %x and %q included, print the placeholder.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText covers encoding/json, TOML encoders and slog's text and JSON handlers.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes slog print the placeholder whatever the handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Schedule is a cron schedule parsed at load time. Spec is the expression as written in the
// file, for display; the zone is Asia/Tokyo unless the expression starts with CRON_TZ= or TZ=.
type Schedule struct {
	Spec     string
	loc      *time.Location
	schedule cron.Schedule
}

// DefaultZone is the zone a schedule without CRON_TZ= runs in: the agencies are Japanese and
// so are their office hours, whatever the server's TZ.
const DefaultZone = "Asia/Tokyo"

// ParseSchedule parses a standard 5-field cron expression or a descriptor (@daily, @every 5m),
// optionally prefixed with CRON_TZ=Zone or TZ=Zone.
func ParseSchedule(spec string) (Schedule, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return Schedule{}, fmt.Errorf("empty cron schedule")
	}
	full := s
	if !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") {
		full = "CRON_TZ=" + DefaultZone + " " + s
	}
	sched, err := cron.ParseStandard(full)
	if err != nil {
		return Schedule{}, fmt.Errorf("bad cron schedule %q: %v", s, err)
	}
	// cron has already loaded the zone; load it again only to keep it for display.
	_, rest, _ := strings.Cut(full, "=")
	name, _, _ := strings.Cut(rest, " ")
	loc, err := time.LoadLocation(name)
	if err != nil {
		return Schedule{}, fmt.Errorf("bad cron schedule %q: %v", s, err)
	}
	return Schedule{Spec: s, loc: loc, schedule: sched}, nil
}

func mustSchedule(spec string) Schedule {
	s, err := ParseSchedule(spec)
	if err != nil {
		panic(err) // only for the constant defaults, which a test parses
	}
	return s
}

// Next returns the first activation after t, in t's location; the zero time if the schedule is
// unset or never fires.
func (s Schedule) Next(t time.Time) time.Time {
	if s.schedule == nil {
		return time.Time{}
	}
	return s.schedule.Next(t)
}

// Location is the zone the schedule runs in.
func (s Schedule) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// IsZero reports whether the schedule is unset.
func (s Schedule) IsZero() bool { return s.schedule == nil }

func (s Schedule) String() string { return s.Spec }

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Schedule) UnmarshalTOML(v any) error {
	str, ok := v.(string)
	if !ok {
		return typeError("a cron expression string", v)
	}
	p, err := ParseSchedule(str)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// HostPort is a network address. Port may be empty after parsing; Load fills in the port
// that goes with the TLS mode (993/143, 465/587/25), so after Load it is always set for
// imap and smtp.
type HostPort struct {
	Host string
	Port string
}

func parseHostPort(s string) (HostPort, error) {
	if s == "" {
		return HostPort{}, nil
	}
	if _, err := netip.ParseAddr(s); err == nil && strings.Contains(s, ":") {
		return HostPort{}, fmt.Errorf("bad address %q: write an IPv6 address in brackets with a port, e.g. [%s]:993", s, s)
	}
	if !strings.Contains(s, ":") {
		return HostPort{Host: s}, validHost(s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return HostPort{}, fmt.Errorf("bad address %q: %v", s, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return HostPort{}, fmt.Errorf("bad address %q: port %q is not a number from 1 to 65535", s, port)
	}
	if host != "" {
		if err := validHost(host); err != nil {
			return HostPort{}, err
		}
	}
	return HostPort{Host: host, Port: port}, nil
}

func validHost(h string) error {
	if strings.ContainsAny(h, " /\t@") {
		return fmt.Errorf("bad host %q", h)
	}
	return nil
}

// String gives host:port, as net.Dial wants it.
func (h HostPort) String() string {
	if h.Port == "" {
		return h.Host
	}
	return net.JoinHostPort(h.Host, h.Port)
}

// IsZero reports whether no address was given.
func (h HostPort) IsZero() bool { return h.Host == "" && h.Port == "" }

// IsLoopback reports whether the host is localhost or a loopback IP. Names other than
// "localhost" are not resolved: a check that depends on DNS at load time is no check.
func (h HostPort) IsLoopback() bool {
	host := strings.TrimSuffix(strings.ToLower(h.Host), ".")
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// UnmarshalTOML implements toml.Unmarshaler.
func (h *HostPort) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return typeError(`a "host:port" string`, v)
	}
	p, err := parseHostPort(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// Size is a number of bytes, written in the file as an integer or as "10MiB", "512KiB",
// "1GiB" (binary) or "10MB", "500kB" (decimal).
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize parses a size as Size's comment describes.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want bytes or a number with KiB, MiB, GiB, kB, MB or GB", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return Size(n * mult), nil
}

func (z Size) String() string {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if z != 0 && int64(z)%u.m == 0 {
			return strconv.FormatInt(int64(z)/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(int64(z), 10) + "B"
}

// UnmarshalTOML implements toml.Unmarshaler.
func (z *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("bad size %d: negative", x)
		}
		*z = Size(x)
		return nil
	case string:
		p, err := ParseSize(x)
		if err != nil {
			return err
		}
		*z = p
		return nil
	}
	return typeError(`a size like "10MiB" or a number of bytes`, v)
}

// Date is a calendar date without a zone, as the agencies' rules state them
// (「令和5年6月1日以降に契約」): written start_date = 2023-06-01 or "2023-06-01".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports whether no date was given.
func (d Date) IsZero() bool { return d == Date{} }

// In returns the start of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Date) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case time.Time:
		if x.Location().String() != "date-local" {
			return fmt.Errorf("want a date without a time, e.g. 2023-06-01")
		}
		*d = Date{x.Year(), x.Month(), x.Day()}
		return nil
	case string:
		t, err := time.Parse("2006-01-02", strings.TrimSpace(x))
		if err != nil {
			return fmt.Errorf("bad date %q: want YYYY-MM-DD, e.g. 2023-06-01", x)
		}
		*d = Date{t.Year(), t.Month(), t.Day()}
		return nil
	}
	return typeError("a date like 2023-06-01", v)
}

// parseDuration accepts Go durations ("90s", "1h30m", "2160h") and whole days ("90d"),
// because retention periods are thought of in days.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(t, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("bad duration %q: want e.g. \"90d\", \"24h\" or \"30s\"", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. \"90d\", \"24h\" or \"30s\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("bad duration %q: negative", s)
	}
	return d, nil
}

// typeError says what the key wanted and what the file gave.
func typeError(want string, got any) error {
	return fmt.Errorf("bad type: want %s, got %s", want, tomlTypeName(got))
}

func tomlTypeName(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "a date/time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}
