// Command imagegate is the authorizing proxy for image APIs: `imagegate serve` runs it
// from a configuration file, `imagegate demo` runs it in front of an in-memory image API
// with sample tokens, `imagegate check` decides one request offline and explains it,
// `imagegate audit` summarises decision logs, and `imagegate version` prints what it is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `imagegate — the authorizing proxy for image APIs

Usage:
  imagegate serve   --config FILE      run the proxy (IMAGEGATE_… variables override the file)
  imagegate demo    [flags]            run the proxy in front of an in-memory image API with sample tokens
  imagegate check   [flags]            decide one request offline and explain it (exit 0 allow, 1 deny)
  imagegate audit   [flags] FILE...    summarise decision logs: denials, image accesses, top talkers
  imagegate version                    print the version

Run 'imagegate COMMAND -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "demo":
		err = demo(ctx, args[1:], stdout, stderr)
	case "check":
		return checkCommand(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCommand(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version":
		err = version(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "imagegate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "imagegate %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// newLogger builds the process log on stderr; the decision log has its own sink.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
