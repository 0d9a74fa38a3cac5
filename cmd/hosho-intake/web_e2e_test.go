package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/encoding/japanese"

	"hosho-intake/intake"
	"hosho-intake/intake/daemon"
	"hosho-intake/verifier"
)

var screenshots = flag.Bool("screenshots", false, "write the clerks' page screenshots to deploy/screenshots (TestClerksPageInBrowser)")

// chromiumPath finds Debian's chromium; under CI=true its absence fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: apt-get install chromium (the clerks' page's browser test fails under CI=true without it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// waitMail waits for the SMTP peer to receive a message that match accepts. The bound is
// for a hung daemon, not a measure of speed.
func waitMail(t *testing.T, r *demoRelay, what string, match func(m *mail.Message, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := append([]received(nil), r.got...)
		r.mu.Unlock()
		for _, g := range got {
			m, err := mail.ReadMessage(bytes.NewReader(g.Data))
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(m.Body)
			body := string(b)
			if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "base64") {
				d, _ := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(body))
				body = string(d)
			}
			if match(m, body) {
				return body
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the SMTP peer never received %s", what)
	return ""
}

func subjectOf(m *mail.Message) string {
	var dec mime.WordDecoder
	s, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	return s
}

// TestClerksPageInBrowser drives the clerks' page in a real browser over the demo's world
// (an IMAP mailbox of generated mails, an SMTP peer, the daemon's service with its outbox
// running): sign in through the mailed link, open the queue, reveal and copy a key, verify
// one item, reject another with a reason, see both contractors' outcome mails arrive, and
// export the CSV, import the contract register (upload, preview, confirm). With
// -screenshots it writes deploy/screenshots/queue.png, item.png and register.png.
func TestClerksPageInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := startDemo(ctx, env{getenv: noEnv, stdout: io.Discard, stderr: io.Discard}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	outboxDone := make(chan struct{})
	go func() { d.svc.Outbox.Run(ctx); close(outboxDone) }()
	defer func() { cancel(); <-outboxDone }()

	// The items as stored, keys and all, read without recording a reveal: the test is no clerk.
	var waiting []verifier.Submission
	err = d.svc.Ledger.DB().View(func(tx *bolt.Tx) error {
		waiting, err = d.svc.Queue.List(tx, verifier.StateQueued)
		return err
	})
	if err != nil || len(waiting) < 2 {
		t.Fatalf("the demo queued %d items (%v), want at least 2", len(waiting), err)
	}
	first, second := waiting[0], waiting[1]

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 1400)}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	origin := strings.TrimSuffix(d.pageURL, "/")
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(bctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: origin}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}

	// Sign in: the form, the mail at the SMTP peer, its link, the button.
	do("asking for a sign-in link",
		chromedp.Navigate(d.pageURL),
		chromedp.WaitVisible(chromedp.CSS(`#address`)),
		chromedp.SendKeys(chromedp.CSS(`#address`), demoClerk),
		chromedp.Submit(chromedp.CSS(`#address`)),
		chromedp.WaitVisible(chromedp.CSS(`p.detail`)))
	if h := text(`h1`); h != "サインイン用のリンクを送りました" {
		t.Errorf("after asking for a link the page says %q", h)
	}
	body := waitMail(t, d.relay, "the sign-in mail", func(m *mail.Message, _ string) bool {
		return strings.Contains(m.Header.Get("To"), demoClerk) && strings.Contains(subjectOf(m), "サインイン")
	})
	link := regexp.MustCompile(`http://\S+/signin/link\?t=\S+`).FindString(body)
	if link == "" {
		t.Fatalf("no link in the sign-in mail:\n%s", body)
	}
	do("signing in",
		chromedp.Navigate(link),
		chromedp.Click(chromedp.CSS(`#signin`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#item-%d`, first.ID))))

	// Reveal and copy the first item's key.
	do("revealing the key",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#item-%d form.reveal button`, first.ID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#copykey-%d`, first.ID))))
	shown := text(fmt.Sprintf(`#key-%d`, first.ID))
	do("copying the key",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#copykey-%d`, first.ID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#copykey-%d + .copied`, first.ID))))
	status := text(fmt.Sprintf(`#copykey-%d + .copied`, first.ID))
	copied, err := chromedp.Run(bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("reading the clipboard: %v", err)
	}
	if shown != first.Notice.AuthKey || copied != first.Notice.AuthKey || status != "コピーしました" {
		t.Errorf("key shown %q, copied %q (%s), want %q", shown, copied, status, first.Notice.AuthKey)
	}
	screenshot(t, bctx, "queue.png")

	// Verify the first from the queue.
	do("verifying",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#verify-%d`, first.ID))),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if flash := text(`.flash`); !strings.Contains(flash, first.TrackingNumber()+" を確認済") {
		t.Errorf("after verifying, the page says %q", flash)
	}

	// Reject the second, on its own page, with a reason.
	const reason = "工事名が契約書と異なります。正しいお知らせをお送りください。"
	do("opening an item",
		chromedp.Navigate(fmt.Sprintf("%sitems/%d", d.pageURL, second.ID)),
		chromedp.WaitVisible(chromedp.CSS(`.history`)))
	screenshot(t, bctx, "item.png")
	do("rejecting",
		chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(`#reason-%d`, second.ID)), reason),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#reject-%d`, second.ID))),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if flash := text(`.flash`); !strings.Contains(flash, second.TrackingNumber()+" を差戻し") {
		t.Errorf("after rejecting, the page says %q", flash)
	}

	// Both contractors hear the outcome, through the same outbox as every reply.
	for _, it := range []struct {
		s    verifier.Submission
		want string
	}{{first, "確認"}, {second, "工事名が契約書と異なります"}} {
		body := waitMail(t, d.relay, "the outcome for "+it.s.TrackingNumber(), func(m *mail.Message, _ string) bool {
			return strings.Contains(m.Header.Get("To"), it.s.Sender) &&
				strings.Contains(subjectOf(m), "電子証書の確認結果のお知らせ（受付番号 "+it.s.TrackingNumber())
		})
		if !strings.Contains(body, it.want) {
			t.Errorf("the outcome mail for %s does not say %q:\n%s", it.s.TrackingNumber(), it.want, body)
		}
	}

	// The export of today's verified items, as the browser downloads it.
	today := time.Now().In(time.FixedZone("JST", 9*3600)).Format(time.DateOnly)
	csvBytes, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](fmt.Sprintf(
		`fetch('/export?from=%s&to=%s&state=verified').then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))`, today, today),
		chromedp.EvalAwaitPromise, chromedp.EvalAsValue))
	if err != nil {
		t.Fatalf("exporting: %v", err)
	}
	csv := make([]byte, len(csvBytes))
	for i, b := range csvBytes {
		csv[i] = byte(b)
	}
	lines := strings.Split(strings.TrimSuffix(string(csv), "\r\n"), "\r\n")
	if !bytes.HasPrefix(csv, []byte("\xEF\xBB\xBF受付番号,状態,区分,保証契約番号,工事名,")) || len(lines) != 2 ||
		!strings.HasPrefix(lines[1], first.TrackingNumber()+",確認済,"+first.Notice.Category+","+first.Notice.ContractNumber+",") ||
		!strings.Contains(lines[1], ","+demoClerk+",画面,") || bytes.Contains(csv, []byte(first.Notice.AuthKey)) {
		t.Errorf("the CSV export:\n%q", csv)
	}

	// The contract register, imported through the page: Excel's Shift_JIS CSV with one row
	// the reader refuses (a formula), a preview, then the confirmation.
	regCSV, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte("工事名,当初契約日,契約番号\r\n" +
		second.Notice.ProjectName + ",2023/06/01 0:00,\r\n" +
		"\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"橋梁補修工事\"\")\",2023/06/01,\r\n"))
	if err != nil {
		t.Fatalf("the register in Shift_JIS: %v", err)
	}
	regFile := filepath.Join(t.TempDir(), "契約台帳.csv")
	if err := os.WriteFile(regFile, regCSV, 0o600); err != nil {
		t.Fatal(err)
	}
	do("previewing a register import",
		chromedp.Navigate(d.pageURL+"register"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="csv"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`input[name="csv"]`), []string{regFile}),
		chromedp.Click(chromedp.CSS(`#register-preview`)),
		chromedp.WaitVisible(chromedp.CSS(`.register-preview`)))
	if sum := text(`.register-preview .summary`); !strings.Contains(sum, "追加 1件") || !strings.Contains(sum, "取り込まない行 1件") {
		t.Errorf("the preview says %q", sum)
	}
	if row := text(`.refused-rows tbody tr`); !strings.HasPrefix(row, "3") || !strings.Contains(row, "数式") {
		t.Errorf("the refused row reads %q, want line 3, a formula", row)
	}
	if added := text(`table.added tbody tr`); !strings.Contains(added, second.Notice.ProjectName) || !strings.Contains(added, "2023-06-01") {
		t.Errorf("the added row reads %q", added)
	}
	screenshot(t, bctx, "register.png")
	do("confirming the import",
		chromedp.Click(chromedp.CSS(`#register-confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if flash := text(`.flash`); !strings.Contains(flash, "契約台帳を取り込みました") {
		t.Errorf("after the import, the page says %q", flash)
	}
	if r := d.svc.Effects.RegisterInEffect(); r.Source != intake.RegisterFromPage || r.Import.By != demoClerk || r.Refused != 1 {
		t.Errorf("register in effect after the import: from %q by %q, %d refused", r.Source, r.Import.By, r.Refused)
	}
	if g := daemon.Status(d.svc, time.Now(), "test").Register; g.Source != "page" || g.By != demoClerk || g.At == nil || g.Contracts == 0 {
		t.Errorf("status after the import says the register is %+v, want the clerk's import", g)
	}
	if e, ok := d.svc.Effects.Register().Lookup(second.Notice.ProjectName, ""); !ok || e.Dates[verifier.BasisOriginalContract].String() != "2023-06-01" {
		t.Errorf("the imported register does not date %q: %+v, %v", second.Notice.ProjectName, e, ok)
	}

	// The history: who saw the key, who decided, and how.
	all, err := d.svc.QueueList(verifier.StateVerified, verifier.StateRejected)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID != first.ID {
			continue
		}
		var how []string
		for _, c := range s.History {
			if c.By == demoClerk {
				how = append(how, c.How)
			}
		}
		if strings.Join(how, ",") != "key_shown,page" {
			t.Errorf("%s's history by the clerk: %v, want key_shown then page", s.TrackingNumber(), how)
		}
	}
}

// screenshot writes the page as deploy/screenshots/name, with -screenshots.
func screenshot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "deploy", "screenshots", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
