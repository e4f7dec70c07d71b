package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/docevent"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// sigFlags collects repeated --sig role=file flags.
type sigFlags []string

func (s *sigFlags) String() string     { return strings.Join(*s, ",") }
func (s *sigFlags) Set(v string) error { *s = append(*s, v); return nil }

func cmdDocumentEvent(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("document-event --cda FILE.xml --sig ROLE=FILE.sig [--sig ...] --meta META.json [flags]",
		"Prints the document event (egisz.rmis.document.v1) of a signed СЭМД: the metadata of --meta (a document\n"+
			"event's JSON; its file and signatures are set here), the CDA file of --cda inline (or by --ref above the\n"+
			"inline limit of "+fmt.Sprint(topics.DocumentInlineBytes>>10)+" KiB) with its size and sha256, and one detached CMS signature (DER) per --sig.\n"+
			"Each signature must verify over the file; a signer --meta does not list is added with its role.\n"+
			"Publish it with kcat (README: Publishing a document).", stdout, stderr)
	cdaFile := fs.String("cda", "", "the CDA XML file")
	metaFile := fs.String("meta", "", "the event's metadata, JSON (kind, local_uid, ids, patient, signers, ...)")
	ref := fs.String("ref", "", "the MIS's https URL of the file: the event carries the reference, size and sha256 instead of the file")
	compact := fs.Bool("compact", false, "print the event on one line (kcat -P reads one record a line)")
	var sigs sigFlags
	fs.Var(&sigs, "sig", "ROLE=FILE: a signer's detached CMS signature, DER; ROLE is doctor, head or organization (repeat)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	ev, err := buildDocumentEvent(*cdaFile, *metaFile, *ref, sigs)
	if err != nil {
		fmt.Fprintf(stderr, "egisz-gateway document-event: %v\n", err)
		return exitUsage
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if !*compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(ev); err != nil {
		fmt.Fprintf(stderr, "egisz-gateway document-event: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// errUsage marks what is wrong with the command line itself.
var errUsage = errors.New("usage")

func buildDocumentEvent(cdaFile, metaFile, ref string, sigSpecs []string) (topics.DocumentEvent, error) {
	var ev topics.DocumentEvent
	if cdaFile == "" || metaFile == "" || len(sigSpecs) == 0 {
		return ev, fmt.Errorf("%w: --cda, --meta and at least one --sig are required", errUsage)
	}
	meta, err := os.ReadFile(metaFile)
	if err != nil {
		return ev, fmt.Errorf("read --meta: %w", err)
	}
	if err := json.Unmarshal(meta, &ev); err != nil {
		return ev, fmt.Errorf("--meta %s is not a document event's JSON: %w", metaFile, err)
	}
	file, err := os.ReadFile(cdaFile)
	if err != nil {
		return ev, fmt.Errorf("read --cda: %w", err)
	}
	var sigs []docevent.Signature
	for _, spec := range sigSpecs {
		role, path, ok := strings.Cut(spec, "=")
		if !ok || role == "" || path == "" {
			return ev, fmt.Errorf("%w: --sig %q: want ROLE=FILE, e.g. doctor=document.doctor.sig", errUsage, spec)
		}
		der, err := os.ReadFile(path)
		if err != nil {
			return ev, fmt.Errorf("read --sig %s: %w", role, err)
		}
		sigs = append(sigs, docevent.Signature{Role: role, DER: der})
	}
	if err := docevent.Attach(&ev, file, sigs, docevent.Options{Ref: ref}); err != nil {
		return ev, err
	}
	return ev, nil
}
