package destination

import (
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// RegistryError is one error item of a registry's answer or result
// callback (РЭМД's errors/item{code, message}).
type RegistryError struct {
	Code    string
	Message string
}

// ResultReasons reads the error items of a registry's final answer for one
// call (РЭМД's result callback, in whichever wire shape it came) through
// the reason catalog: the reasons, and whether sending the call again can
// help (any item whose code is one to retry). An answer that failed
// without items is REGISTRY_UNKNOWN_CODE naming its status, so that a
// failure never settles without a reason. Every callback parser shares it,
// so every callback shape means the same for the same codes.
func (c Classifier) ResultReasons(status string, errs []RegistryError) (rs []topics.Reason, retry bool) {
	for _, e := range errs {
		r := c.catalog.Resolve(e.Code)
		rs = append(rs, topicReason(r, e.Message))
		if r.Action == reasons.Retry {
			retry = true
		}
	}
	if len(rs) == 0 {
		rs = []topics.Reason{topicReason(c.catalog.Resolve(reasons.RegistryUnknownCode), "callback status "+status)}
	}
	return rs, retry
}
