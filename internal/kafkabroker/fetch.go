// Package kafkabroker runs a real Apache Kafka broker for the test suite:
// it fetches the pinned release's jars from Maven Central (through mvn, into
// a cache outside the repository), formats KRaft storage, and starts one
// broker or a cluster of three combined broker-controller nodes on loopback
// ports. A test can kill a node with SIGKILL and restart it.
package kafkabroker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Version is the Apache Kafka release the suite runs: the newest whose
// artifacts all resolve on Maven Central (4.4.0 lists kafka-tools-api in its
// metadata but the jar is not there). Change it here only.
const Version = "4.3.1"

// log4jVersion is the log4j the Kafka release depends on; the SLF4J binding
// must match it so the broker's own log reaches its log file.
const log4jVersion = "2.25.4"

// Install is a fetched Kafka release.
type Install struct {
	Version string
	Dir     string // the release's cache directory
	Lib     string // the directory holding every runtime jar
}

// Classpath is the java -cp argument for the release.
func (in Install) Classpath() string { return filepath.Join(in.Lib, "*") }

// DefaultCacheDir is where releases are kept between runs:
// $EGISZ_KAFKA_CACHE, else ~/.cache/egisz-gateway/kafka.
func DefaultCacheDir() string {
	if d := os.Getenv("EGISZ_KAFKA_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "egisz-gateway", "kafka")
	}
	return filepath.Join(os.TempDir(), "egisz-gateway-kafka")
}

const pomTemplate = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>egisz-gateway</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>%s</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>%s</version></dependency>
  </dependencies>
</project>
`

// Missing says which of the programs needed to fetch and run the broker
// are not installed, with the command that installs them.
func Missing() []string {
	var out []string
	if _, err := exec.LookPath("java"); err != nil {
		out = append(out, "java (apt-get install -y openjdk-17-jre-headless)")
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		out = append(out, "mvn (apt-get install -y maven)")
	}
	return out
}

// Cached reports whether the pinned release is complete in cacheDir, so
// that Fetch needs no Maven.
func Cached(cacheDir string) bool {
	_, err := os.Stat(filepath.Join(cacheDir, "kafka-"+Version, ".complete"))
	return err == nil
}

// Fetch returns the cached release, fetching it first when it is not in
// cacheDir. Progress goes to progress.
func Fetch(ctx context.Context, cacheDir string, progress io.Writer) (Install, error) {
	in := Install{Version: Version, Dir: filepath.Join(cacheDir, "kafka-"+Version)}
	in.Lib = filepath.Join(in.Dir, "lib")
	marker := filepath.Join(in.Dir, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return in, nil
	}
	if m := Missing(); len(m) > 0 {
		return in, fmt.Errorf("fetch Kafka %s: missing %s", Version, strings.Join(m, ", "))
	}
	start := time.Now()
	fmt.Fprintf(progress, "kafkabroker: fetching Apache Kafka %s from Maven Central into %s\n", Version, in.Dir)
	if err := os.RemoveAll(in.Lib); err != nil {
		return in, fmt.Errorf("fetch Kafka %s: %w", Version, err)
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		return in, fmt.Errorf("fetch Kafka %s: %w", Version, err)
	}
	pom := filepath.Join(in.Dir, "pom.xml")
	if err := os.WriteFile(pom, fmt.Appendf(nil, pomTemplate, Version, log4jVersion), 0o644); err != nil {
		return in, fmt.Errorf("fetch Kafka %s: %w", Version, err)
	}
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q", "-f", pom,
		"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+in.Lib)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return in, fmt.Errorf("fetch Kafka %s: mvn: %w\n%s", Version, err, tail(out.String(), 20))
	}
	jars, _ := filepath.Glob(filepath.Join(in.Lib, "*.jar"))
	if len(jars) == 0 {
		return in, fmt.Errorf("fetch Kafka %s: mvn copied no jars", Version)
	}
	if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return in, fmt.Errorf("fetch Kafka %s: %w", Version, err)
	}
	fmt.Fprintf(progress, "kafkabroker: fetched %d jars in %s\n", len(jars), time.Since(start).Round(100*time.Millisecond))
	return in, nil
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// EnvHome names the variable kafka-local sets to the fetched release, so
// tests that need clusters of their own (the three-node fault tests) find it.
const EnvHome = "EGISZ_KAFKA_HOME"

// FromEnv returns the release named by EGISZ_KAFKA_HOME, if it is set and complete.
func FromEnv() (Install, bool) {
	dir := os.Getenv(EnvHome)
	if dir == "" {
		return Install{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return Install{}, false
	}
	return Install{Version: Version, Dir: dir, Lib: filepath.Join(dir, "lib")}, true
}
