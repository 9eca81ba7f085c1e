package delivery

import (
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

var schemaSeq atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPG.srv != nil {
		sharedPG.srv.close()
	}
	os.Exit(code)
}

// withParam adds a query parameter to a database URL.
func withParam(raw, key, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}
