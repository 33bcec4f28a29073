package gen

import (
	"net/http"
	"sort"

	"github.com/kvchaos/kvchaos/server/api"
)

// ErrorCode is one error code of the v1 API: the status it is always sent
// with and when a client gets it.
type ErrorCode struct {
	Code   string
	Status int
	When   string
}

// ErrorCodes lists every error code of the v1 API. A test keeps it equal to
// the Code constants of server/api, so a new code cannot ship undocumented.
var ErrorCodes = []ErrorCode{
	{api.CodeInvalidRequest, http.StatusBadRequest, "a malformed request: a bad query parameter (limit, prefix, after), a bad If-Match or If-None-Match on a write, an unreadable body"},
	{api.CodeInvalidKey, http.StatusBadRequest, "the key is empty, longer than 1024 bytes, badly escaped or not UTF-8 after unescaping"},
	{api.CodeInvalidTTL, http.StatusBadRequest, "ttl is not a positive Go duration or whole number of seconds, overflows, or is above --max-ttl; nothing is stored"},
	{api.CodeInvalidBatch, http.StatusBadRequest, "a batch body or op is malformed; details.op_index (absent for the body as a whole) and details.reason say which and why; nothing is applied"},
	{api.CodeUnauthorized, http.StatusUnauthorized, "--auth-token is set and the request has no or a wrong `Authorization: Bearer` header"},
	{api.CodeKeyNotFound, http.StatusNotFound, "the key does not exist or has expired"},
	{api.CodeRouteNotFound, http.StatusNotFound, "no route has this path"},
	{api.CodeUnsupportedAPIVersion, http.StatusNotFound, "the path is /api/<version>/... with a version other than v1; details.supported lists the versions served"},
	{api.CodeMethodNotAllowed, http.StatusMethodNotAllowed, "the path exists, but not with this method"},
	{api.CodeBatchConditionFailed, http.StatusConflict, "a check op of the batch failed; nothing was applied; details.op_index, details.key and details.reason say which"},
	{api.CodePreconditionFailed, http.StatusPreconditionFailed, "If-Match names another revision or the key is absent, or If-None-Match: * and the key exists; details.key names it"},
	{api.CodePayloadTooLarge, http.StatusRequestEntityTooLarge, "the body is over --max-value-size (PUT) or --max-body-size (batch), refused while streaming, or a batch has more than --max-batch-ops ops"},
	{api.CodeInternal, http.StatusInternalServerError, "an I/O error (EIO) writing or syncing the log, or a panic in a handler; the write is not acknowledged and the server stays up"},
	{api.CodeUnavailable, http.StatusServiceUnavailable, "the store is still loading or already closed"},
	{api.CodeDiskFull, http.StatusInsufficientStorage, "writing or syncing the log failed with ENOSPC or EDQUOT; the write is not acknowledged, reads keep working, writes work again once space is freed"},
	{api.CodeMemoryLimit, http.StatusInsufficientStorage, "--max-memory is reached and --eviction is noeviction; reads and deletes keep working"},
}

// errorStatus groups the codes sent with one status.
type errorStatus struct {
	Status int
	Text   string
	Codes  []ErrorCode
}

// errorStatuses groups ErrorCodes by status, in status order.
func errorStatuses() []errorStatus {
	by := map[int]*errorStatus{}
	for _, c := range ErrorCodes {
		s := by[c.Status]
		if s == nil {
			s = &errorStatus{Status: c.Status, Text: http.StatusText(c.Status)}
			by[c.Status] = s
		}
		s.Codes = append(s.Codes, c)
	}
	out := make([]errorStatus, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Status < out[j].Status })
	return out
}
