package kafkabroker

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A cluster id that begins with '-' makes kafka-storage fail to format a node;
// one draw in 64 would, so thousands of draws find a regression.
func TestClusterIDsAreKafkaUuids(t *testing.T) {
	for range 5000 {
		id := newClusterID()
		if strings.HasPrefix(id, "-") {
			t.Fatalf("cluster id %q begins with '-'", id)
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 {
			t.Fatalf("cluster id %q is not 16 bytes of base64url: %v", id, err)
		}
	}
}
