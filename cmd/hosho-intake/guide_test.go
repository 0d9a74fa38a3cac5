package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The admin guide (docs/admin-guide.ja.md) shows commands an admin types. TestGuide keeps
// them true: a guide command that names a subcommand or a flag the binary no longer has
// fails here, not on an admin's server.
//
// The guide's conventions, which this test enforces: every fenced block names its
// language; commands are in ```sh blocks (a ```console block's "$ " lines count too);
// settings are in ```toml blocks, a block with [agency] being a whole config and any other
// block a fragment whose tables replace those of the guide's first whole config.

const guideFile = "../../docs/admin-guide.ja.md"

// guideBlock is one fenced block of the guide.
type guideBlock struct {
	lang string
	line int // of the opening fence
	text string
}

func guideBlocks(t *testing.T, md string) []guideBlock {
	t.Helper()
	var blocks []guideBlock
	var cur *guideBlock
	var body []string
	for i, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				body = append(body, l)
			}
			continue
		}
		if cur != nil {
			cur.text = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur, body = nil, nil
			continue
		}
		lang := strings.TrimSpace(strings.TrimPrefix(l, "```"))
		if lang == "" {
			t.Errorf("%s:%d: a fenced block without a language (sh, text, toml, ini, powershell): the test cannot tell commands from output", guideFile, i+1)
		}
		cur = &guideBlock{lang: lang, line: i + 1}
	}
	if cur != nil {
		t.Errorf("%s:%d: fenced block never closed", guideFile, cur.line)
	}
	return blocks
}

// guideShellLine is one command line of a block, continuation lines joined.
type guideShellLine struct {
	line int
	text string
}

func guideShellLines(b guideBlock) []guideShellLine {
	var out []guideShellLine
	lines := strings.Split(b.text, "\n")
	for i := 0; i < len(lines); i++ {
		start := b.line + 1 + i
		l := lines[i]
		if b.lang == "console" {
			if !strings.HasPrefix(l, "$ ") {
				continue
			}
			l = strings.TrimPrefix(l, "$ ")
		}
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + lines[i]
		}
		if strings.TrimSpace(l) != "" {
			out = append(out, guideShellLine{start, l})
		}
	}
	return out
}

// guideShellCommands splits a line as sh would into simple commands of words: quotes removed,
// $(...) kept as part of its word, a comment dropped, and split at ; & && | ||.
func guideShellCommands(line string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	depth := 0
	end := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	cut := func() {
		end()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteRune(c)
			}
		case c == '\\' && i+1 < len(rs):
			i++
			w.WriteRune(rs[i])
			inWord = true
		case quote == '"':
			if c == '"' && depth == 0 {
				quote = 0
			} else {
				w.WriteRune(c)
			}
		case c == '$' && i+1 < len(rs) && rs[i+1] == '(':
			depth++
			i++
			w.WriteString("$(")
			inWord = true
		case depth > 0:
			if c == ')' {
				depth--
			}
			w.WriteRune(c)
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			end()
		case c == '#' && !inWord:
			cut()
			return cmds, nil
		case c == ';' || c == '&' || c == '|':
			cut()
			if i+1 < len(rs) && rs[i+1] == c {
				i++
			}
		default:
			w.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 || depth > 0 {
		return nil, fmt.Errorf("unbalanced quote or $( in %q", line)
	}
	cut()
	return cmds, nil
}

var guideAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// guideProgram finds the word that sh runs: past sudo (and its options), env (and its
// assignments), and leading VAR=value words.
func guideProgram(words []string) int {
	valued := map[string]bool{"-u": true, "-g": true, "-C": true, "-D": true, "-p": true, "-r": true, "-t": true, "-U": true, "-T": true, "-R": true, "-S": true}
	i := 0
	for i < len(words) {
		switch w := words[i]; {
		case w == "sudo" || w == "env":
			i++
			for i < len(words) && (strings.HasPrefix(words[i], "-") || guideAssignment.MatchString(words[i])) {
				if valued[words[i]] {
					i++
				}
				i++
			}
		case w == "exec" || w == "time" || w == "command" || w == "nice" || w == "nohup" || guideAssignment.MatchString(w):
			i++
		default:
			return i
		}
	}
	return len(words)
}

// guideCommand is one hosho-intake (or install.sh) command of the guide: its arguments.
type guideCommand struct {
	line int
	text string
	args []string
}

func guideCommands(t *testing.T, blocks []guideBlock, name string) []guideCommand {
	t.Helper()
	var out []guideCommand
	for _, b := range blocks {
		if b.lang != "sh" && b.lang != "bash" && b.lang != "shell" && b.lang != "console" {
			continue
		}
		for _, l := range guideShellLines(b) {
			cmds, err := guideShellCommands(l.text)
			if err != nil {
				t.Errorf("%s:%d: %v", guideFile, l.line, err)
				continue
			}
			for _, words := range cmds {
				if i := guideProgram(words); i < len(words) && filepath.Base(words[i]) == name {
					out = append(out, guideCommand{l.line, l.text, words[i+1:]})
				}
			}
		}
	}
	return out
}

// guideUsageFlag is a flag line of a FlagSet's usage ("  -config string", "  -connect").
var guideUsageFlag = regexp.MustCompile(`(?m)^  --?([^\s=-][^\s=]*)(?: (\S+))?(?:\t.*)?$`)

// guideCommandFlags asks a command for its flags as its own FlagSet lists them on -h: each
// flag's name, and whether it takes a value.
func guideCommandFlags(t *testing.T, args ...string) (map[string]bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	run(ctx, env{args: append(args, "-h"), getenv: noEnv, stdin: strings.NewReader(""), stdout: &out, stderr: &out})
	flags := map[string]bool{}
	for _, m := range guideUsageFlag.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = m[2] != ""
	}
	return flags, out.String()
}

func TestGuide(t *testing.T) {
	raw, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	blocks := guideBlocks(t, md)
	cmds := guideCommands(t, blocks, "hosho-intake")
	// The guide must keep showing these; an extractor that finds nothing must not pass.
	seen := map[string]int{}
	for _, c := range cmds {
		if len(c.args) == 0 {
			t.Errorf("%s:%d: %s\n\tno subcommand", guideFile, c.line, c.text)
			continue
		}
		seen[c.args[0]]++
	}
	for _, want := range []string{"check", "status", "queue", "backup", "restore", "version", "demo"} {
		if seen[want] == 0 {
			t.Errorf("the guide shows no `hosho-intake %s` command (found %v)", want, seen)
		}
	}

	t.Logf("%d hosho-intake commands in the guide", len(cmds))
	table := commands()
	// Each command that the guide gives arguments anywhere is asked for its flags once
	// (not the others: `demo -h` would run the demo).
	probed := map[string]map[string]bool{}
	for _, c := range cmds {
		if len(c.args) < 2 || probed[c.args[0]] != nil {
			continue
		}
		if cmd, ok := table[c.args[0]]; ok && !cmd.hidden {
			probed[c.args[0]], _ = guideCommandFlags(t, c.args[0])
		}
	}
	for _, c := range cmds {
		if len(c.args) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d: %s", guideFile, c.line, c.text)
		name := c.args[0]
		if name == "help" {
			for _, a := range c.args[1:] {
				if _, ok := table[a]; !ok {
					t.Errorf("%s\n\thelp for an unknown command %q", where, a)
				}
			}
			continue
		}
		cmd, ok := table[name]
		if !ok || cmd.hidden {
			t.Errorf("%s\n\tunknown command %q", where, name)
			continue
		}
		flags := probed[name]
		if _, client := flags["socket"]; client {
			// A client of the daemon: run the whole line against a socket nobody listens
			// on. It gets to the call only when its flags, subcommand and arguments parse.
			sock := filepath.Join(t.TempDir(), "none.sock")
			var out bytes.Buffer
			err := run(context.Background(), env{args: append(append([]string{}, c.args...), "--socket", sock), getenv: noEnv,
				stdin: strings.NewReader(""), stdout: &out, stderr: &out})
			if exitStatus(err) != 1 || !strings.Contains(out.String(), sock) {
				t.Errorf("%s\n\tdoes not parse (exit %d):\n%s", where, exitStatus(err), out.String())
			}
			continue
		}
		args := c.args[1:]
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "--" {
				break
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				continue
			}
			fname, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if fname == "h" || fname == "help" {
				continue
			}
			takesValue, ok := flags[fname]
			if !ok {
				known := make([]string, 0, len(flags))
				for f := range flags {
					known = append(known, "--"+f)
				}
				sort.Strings(known)
				if len(known) == 0 {
					known = []string{"none"}
				}
				t.Errorf("%s\n\t`hosho-intake %s` has no flag %s (its flags: %s)", where, name, a, strings.Join(known, " "))
				continue
			}
			if takesValue && !hasValue {
				i++
			}
		}
	}

	// install.sh: every option the guide passes is one of its case patterns.
	script, err := os.ReadFile("../../deploy/install.sh")
	if err != nil {
		t.Fatal(err)
	}
	options := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(-[^)\n]*)\)`).FindAllStringSubmatch(string(script), -1) {
		for _, p := range strings.Split(m[1], "|") {
			options[strings.TrimSuffix(strings.TrimSpace(p), "=*")] = true
		}
	}
	installs := guideCommands(t, blocks, "install.sh")
	if len(installs) == 0 {
		t.Error("the guide shows no deploy/install.sh command")
	}
	for _, c := range installs {
		for _, a := range c.args {
			if name, _, _ := strings.Cut(a, "="); strings.HasPrefix(a, "-") && !options[name] {
				t.Errorf("%s:%d: %s\n\tinstall.sh has no option %s", guideFile, c.line, c.text, a)
			}
		}
	}
	// Every link to a section of the guide leads to a heading (GitHub's anchors: lower
	// case, punctuation dropped, spaces made hyphens).
	anchors := map[string]bool{}
	fenced := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		m := regexp.MustCompile(`^#{1,6} (.+)$`).FindStringSubmatch(l)
		if fenced || m == nil {
			continue
		}
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
				slug.WriteRune(r)
			}
		}
		anchors[slug.String()] = true
	}
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(md, -1) {
		if !anchors[m[1]] {
			t.Errorf("the guide links to #%s, which no heading has", m[1])
		}
	}
	// The Go version the guide tells admins to install is the one go.mod needs.
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod); m == nil {
		t.Error("go.mod has no go line")
	} else if v := string(m[1]); !strings.Contains(md, "Go "+v+" 以降") || !strings.Contains(md, "go"+v+".linux-amd64.tar.gz") {
		t.Errorf("the guide does not name go.mod's Go version %s (as \"Go %s 以降\" and in the download)", v, v)
	}
	// The one check command: as install.sh prints it, so that both say the same.
	for _, l := range strings.Split(string(script), "\n") {
		if strings.Contains(l, "check --connect") && strings.Contains(l, "sudo") {
			want := strings.ReplaceAll(strings.TrimSpace(l), "$name", "hosho-intake")
			if !strings.Contains(md, want) {
				t.Errorf("the guide lacks install.sh's check command %q", want)
			}
		}
	}
}

// guideTOMLTables splits a TOML text into its tables by their header lines, in order; the text
// before the first header is the table "".
func guideTOMLTables(text string) ([]string, map[string]string) {
	header := regexp.MustCompile(`^\[([^\[\]]+)\]\s*(#.*)?$`)
	order := []string{""}
	tables := map[string]string{}
	name := ""
	for _, l := range strings.Split(text, "\n") {
		if m := header.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			name = strings.TrimSpace(m[1])
			if _, ok := tables[name]; !ok {
				order = append(order, name)
			}
		}
		tables[name] += l + "\n"
	}
	return order, tables
}

// guideMergeTOML replaces base's tables with fragment's of the same name and adds the others.
func guideMergeTOML(base, fragment string) string {
	order, tables := guideTOMLTables(base)
	forder, ftables := guideTOMLTables(fragment)
	for _, n := range forder {
		if n == "" {
			continue
		}
		if _, ok := tables[n]; !ok {
			order = append(order, n)
		}
		tables[n] = ftables[n]
	}
	var b strings.Builder
	for _, n := range order {
		b.WriteString(tables[n])
	}
	return b.String()
}

// TestGuideConfigs runs `hosho-intake check --config` on every config of the guide, as an
// admin does with CREDENTIALS_DIRECTORY pointing at the secret files the config names.
func TestGuideConfigs(t *testing.T) {
	raw, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	var base string
	type config struct {
		line int
		text string
	}
	var configs []config
	for _, b := range guideBlocks(t, string(raw)) {
		if b.lang != "toml" {
			continue
		}
		if regexp.MustCompile(`(?m)^\[agency\]`).MatchString(b.text) {
			if base == "" {
				base = b.text
			}
			configs = append(configs, config{b.line, b.text})
			continue
		}
		if base == "" {
			t.Fatalf("%s:%d: a config fragment before any whole config", guideFile, b.line)
		}
		configs = append(configs, config{b.line, guideMergeTOML(base, b.text)})
	}
	if len(configs) < 2 {
		t.Fatalf("the guide shows %d configs; want at least 島根県's and 鳥取県建設技術センター's", len(configs))
	}
	credName := regexp.MustCompile(`"cred:([^"]+)"`)
	for _, c := range configs {
		dir := t.TempDir()
		creds := filepath.Join(dir, "credentials")
		os.Mkdir(creds, 0o700)
		names := []string{"imap-password", "smtp-password"}
		for _, m := range credName.FindAllStringSubmatch(c.text, -1) {
			names = append(names, m[1])
		}
		for _, n := range names {
			secret := "a-secret\n"
			switch {
			case strings.Contains(n, "token"):
				secret = `{"refresh_token": "a-refresh-token"}` + "\n"
			case strings.Contains(n, "service-account"):
				// What a Google service account's JSON key holds; check reads these fields.
				secret = `{"type": "service_account", "client_email": "hosho-intake@agency.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----\n", "token_uri": "https://oauth2.googleapis.com/token"}` + "\n"
			}
			if err := os.WriteFile(filepath.Join(creds, n), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		getenv := func(k string) string {
			if k == "CREDENTIALS_DIRECTORY" {
				return creds
			}
			return ""
		}
		var out bytes.Buffer
		if err := run(context.Background(), env{args: []string{"check", "--config", path}, getenv: getenv, stdout: &out, stderr: &out}); err != nil {
			t.Errorf("%s:%d: the config does not pass check:\n%s\n--- as checked:\n%s", guideFile, c.line, out.String(), c.text)
		}
	}
}
