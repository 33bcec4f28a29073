// Package gen writes kvchaos's generated documentation under docs/ from the
// truth: the server's route table and error constants, a live kvserver's
// answers, the packages' doc comments and a benchmark's bench.json.
package gen
