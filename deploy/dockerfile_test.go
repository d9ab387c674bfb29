package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerInstr is one Dockerfile instruction with continuations joined.
type dockerInstr struct {
	cmd, args string
}

// parseDockerfile is a minimal line-based parser: it drops comments and
// blank lines, joins backslash continuations and splits off the keyword.
// It is enough for the assertions below, not a general parser.
func parseDockerfile(src string) []dockerInstr {
	var out []dockerInstr
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// execForm decodes an exec-form (JSON array) argument list.
func execForm(t *testing.T, instr dockerInstr) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(instr.args), &v); err != nil {
		t.Errorf("%s %s: want exec (JSON array) form: %v", instr.cmd, instr.args, err)
	}
	return v
}

func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(string(readFile(t, "../Dockerfile")))

	// Split into stages.
	var stages [][]dockerInstr
	for _, in := range instrs {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a multi-stage build", len(stages))
	}

	// Build stage: pinned Go image, go.mod/go.sum copied and downloaded
	// before the sources, static build of the server binary.
	build := stages[0]
	if !regexp.MustCompile(`\bgolang:1\.26-bookworm AS build$`).MatchString(build[0].args) {
		t.Errorf("first stage FROM %s, want golang:1.26-bookworm AS build", build[0].args)
	}
	step := func(pred func(dockerInstr) bool) int {
		return slices.IndexFunc(build, pred)
	}
	copyMod := step(func(in dockerInstr) bool { return in.cmd == "COPY" && strings.HasPrefix(in.args, "go.mod go.sum ") })
	download := step(func(in dockerInstr) bool { return in.cmd == "RUN" && strings.Contains(in.args, "go mod download") })
	copyAll := step(func(in dockerInstr) bool { return in.cmd == "COPY" && strings.HasPrefix(in.args, ". ") })
	if copyMod < 0 || download < 0 || copyAll < 0 || !(copyMod < download && download < copyAll) {
		t.Errorf("want COPY go.mod go.sum, then RUN go mod download, then COPY . (got steps %d, %d, %d)", copyMod, download, copyAll)
	}
	gobuild := step(func(in dockerInstr) bool { return in.cmd == "RUN" && strings.Contains(in.args, "go build") })
	if gobuild < 0 {
		t.Fatal("no go build step")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "-o /out/hanko-authz", "./cmd/hanko-authz"} {
		if !strings.Contains(build[gobuild].args, want) {
			t.Errorf("go build step lacks %s", want)
		}
	}

	// Final stage: distroless or scratch, non-root, the binary as
	// entrypoint with `serve` as the default command, no HEALTHCHECK.
	final := stages[len(stages)-1]
	if base := final[0].args; !strings.HasPrefix(base, "gcr.io/distroless/") && base != "scratch" {
		t.Errorf("final stage FROM %s, want distroless or scratch", base)
	}
	var user string
	var entrypoint, cmd []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final USER %q, want a non-root user", user)
	}
	if !slices.Equal(entrypoint, []string{"/hanko-authz"}) || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %q CMD %q, want [/hanko-authz] [serve]", entrypoint, cmd)
	}
	for _, in := range instrs {
		if in.cmd == "HEALTHCHECK" {
			t.Error("no HEALTHCHECK: Kubernetes probes /healthz and /readyz")
		}
	}

	// The image user is the one the Deployment runs as.
	m := loadK8sManifests(t)
	if sc := m.dep.Spec.Template.Spec.Containers[0].SecurityContext; sc == nil || sc.RunAsUser == nil || user != "65532:65532" || *sc.RunAsUser != 65532 {
		t.Errorf("image USER %q and deployment runAsUser must both be 65532", user)
	}
}

func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, line := range strings.Split(string(readFile(t, "../.dockerignore")), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, want := range []string{".git", "deploy", "**/testdata"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	for _, p := range patterns {
		if p == "go.mod" || p == "go.sum" || p == "cmd" || p == "*" {
			t.Errorf(".dockerignore pattern %q would break the build", p)
		}
	}
}
