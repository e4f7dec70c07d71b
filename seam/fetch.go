package seam

// FetchFailure is why a document could not be fetched by its reference, as
// the runtime's fetcher (gateway/docfetch) says it and the domain
// (adapters/normalize) turns it into a reason of the catalog: the runtime
// knows what went wrong, the domain what it is called.
type FetchFailure string

// The fetch failures.
const (
	FetchFailed         FetchFailure = "failed"          // no answer, an error status, a timeout: worth a replay
	FetchTooLarge       FetchFailure = "too_large"       // over the declared size or the cap
	FetchDigestMismatch FetchFailure = "digest_mismatch" // another size or SHA-256 than declared
)
