package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/imagegate/imagegate/auditreport"
)

// auditUsage is printed by `imagegate audit -h`.
const auditUsage = `Usage: imagegate audit [flags] FILE...

Summarises decision logs (JSON lines, as imagegate writes them; gzip-compressed files
too; "-" is standard input) for a reviewer: requests allowed, denied and failed; denials
by tenant, operation, code and reason; the top talkers; and, with --image, who accessed
an image, when, with which operation, and whether it was allowed. Lines that are not
decision events are counted and skipped.
Exit status: 0 done, 1 a file could not be read, 2 bad flags.

Examples:
  imagegate audit /var/log/imagegate/decisions.jsonl
  imagegate audit --image 3b1f… --top 5 decisions-*.jsonl.gz
  kubectl logs deploy/glance -c imagegate | imagegate audit --format json -

Flags:
`

// auditCommand is `imagegate audit`; it returns the exit status.
func auditCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage)
		fs.PrintDefaults()
	}
	format := fs.String("format", "table", "output: table or json")
	image := fs.String("image", "", "list every access to the image with this id")
	top := fs.Int("top", 10, "entries in each ranked list (0: all)")
	maxAccesses := fs.Int("max-accesses", 1000, "accesses listed for --image (the first in the logs; the others are counted)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(err error) int {
		fmt.Fprintf(stderr, "imagegate audit: %v\n", err)
		return 2
	}
	switch {
	case *format != "table" && *format != "json":
		return usageErr(fmt.Errorf("--format: want table or json, got %q", *format))
	case *top < 0:
		return usageErr(errors.New("--top must not be negative"))
	case *maxAccesses <= 0:
		return usageErr(errors.New("--max-accesses must be positive"))
	case fs.NArg() == 0:
		return usageErr(errors.New(`name at least one decision log ("-" for standard input)`))
	}

	rep := auditreport.New(auditreport.Options{Image: *image, Top: *top, MaxAccesses: *maxAccesses})
	status := 0
	for _, name := range fs.Args() {
		if err := readLog(rep, name, stdin); err != nil {
			// The other files are still summarised; the exit status says one was not.
			fmt.Fprintf(stderr, "imagegate audit: %v\n", err)
			status = 1
		}
	}
	sum := rep.Summary()
	var err error
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(sum)
	} else {
		err = auditreport.WriteTable(stdout, sum)
	}
	if err != nil {
		fmt.Fprintf(stderr, "imagegate audit: %v\n", err)
		return 1
	}
	return status
}

// readLog adds one decision log to the report: a file, or standard input for "-".
func readLog(rep *auditreport.Report, name string, stdin io.Reader) error {
	if name == "-" {
		return rep.Read("-", stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return rep.Read(name, f)
}
