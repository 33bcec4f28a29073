package gen

import "testing"

// TestOpCodesAreRealCodes keeps the per-operation narrowing in step with
// the error table: each code exists and is sent with the status it is
// listed under.
func TestOpCodesAreRealCodes(t *testing.T) {
	status := map[string]int{}
	for _, c := range ErrorCodes {
		status[c.Code] = c.Status
	}
	for op, byStatus := range opCodes {
		for st, codes := range byStatus {
			for _, c := range codes {
				if status[c] != st {
					t.Errorf("opCodes[%s][%d] lists %s, which is sent with %d", op, st, c, status[c])
				}
			}
		}
	}
}
