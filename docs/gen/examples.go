package gen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Header is one HTTP header line.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Example is one request to a live kvserver and its response, as captured
// and normalised (request ids, times, build facts replaced by fixed values).
type Example struct {
	// ID names the example, e.g. "put-created".
	ID string `json:"id"`
	// Op is the OpenAPI operationId it belongs to, or "unmatched" for a
	// path or method the API does not have.
	Op    string `json:"op"`
	Title string `json:"title"`
	// Server is the name of the server configuration it ran against
	// (a key of Examples.Servers).
	Server string `json:"server"`
	Method string `json:"method"`
	// Path is the escaped path and query.
	Path   string   `json:"path"`
	Header []Header `json:"header,omitempty"`
	// Body is the request body; Zeros, when set, sends that many zero
	// bytes instead (shown as head -c N /dev/zero | curl ...).
	Body  string `json:"body,omitempty"`
	Zeros int    `json:"zeros,omitempty"`
	// Grep, when set, keeps only the response body lines matching this
	// extended regexp (shown as | grep -E ...), and hides the headers.
	Grep string `json:"grep,omitempty"`

	Status     int      `json:"status"`
	RespHeader []Header `json:"resp_header"`
	RespBody   string   `json:"resp_body"`
}

// Examples is the content of docs/data/examples.json.
type Examples struct {
	// Note says how the examples were made.
	Note string `json:"note"`
	// Servers holds the kvserver arguments (besides --addr and --data-dir)
	// of each server configuration the examples ran against.
	Servers map[string][]string `json:"servers"`
	// Examples in the order they ran; each server starts empty.
	Examples []Example `json:"examples"`
	// Metrics are the kvserver_* series a live /metrics served.
	Metrics []Metric `json:"metrics"`
	// Flags are kvserver's flags as its -h printed them.
	Flags []Flag `json:"flags"`
}

// Flag is one command-line flag of kvserver.
type Flag struct {
	Name  string `json:"name"`
	Usage string `json:"usage"`
}

// Metric is one Prometheus series family as /metrics describes it.
type Metric struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Help string `json:"help"`
}

// Marshal encodes the examples as indented JSON with a final newline.
func (e *Examples) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode examples: %w", err)
	}
	return append(b, '\n'), nil
}

// LoadExamples reads docs/data/examples.json under root.
func LoadExamples(root string) (*Examples, error) {
	b, err := os.ReadFile(filepath.Join(root, ExamplesFile))
	if err != nil {
		return nil, fmt.Errorf("read examples: %w", err)
	}
	var e Examples
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", ExamplesFile, err)
	}
	return &e, nil
}

// exampleAddr is the address shown in the curl commands: kvserver's
// default --addr, whatever port the capture used.
const exampleAddr = "127.0.0.1:7379"

// Curl renders the example's request as the curl command that sends it to
// kvserver's default address.
func (e Example) Curl() string { return e.curl(exampleAddr) }

// curl renders the curl command that sends the request to addr. Capture
// runs exactly this command, so the page shows what curl really printed.
func (e Example) curl(addr string) string {
	var b strings.Builder
	if e.Zeros > 0 {
		fmt.Fprintf(&b, "head -c %d /dev/zero | ", e.Zeros)
	}
	b.WriteString("curl -s")
	if e.Grep == "" {
		b.WriteString("i")
	}
	switch {
	case e.Method == http.MethodHead:
		b.WriteString(" -I")
	case e.Method != http.MethodGet:
		b.WriteString(" -X " + e.Method)
	}
	for _, h := range e.Header {
		b.WriteString(" -H " + shellQuote(h.Name+": "+h.Value))
	}
	switch {
	case e.Zeros > 0:
		b.WriteString(" --data-binary @-")
	case e.Body != "":
		b.WriteString(" --data-binary " + shellQuote(e.Body))
	}
	b.WriteString(" " + shellQuote("http://"+addr+e.Path))
	if e.Grep != "" {
		b.WriteString(" | grep -E " + shellQuote(e.Grep))
	}
	return b.String()
}

// Output renders the response as curl -i prints it (less the Date header).
func (e Example) Output() string {
	var b strings.Builder
	if e.Grep == "" {
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\n", e.Status, http.StatusText(e.Status))
		for _, h := range e.RespHeader {
			fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
		}
		b.WriteString("\n")
	}
	b.WriteString(e.RespBody)
	return strings.TrimRight(b.String(), "\n")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%,+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
