"""Local processes for the demo, the tests and the benchmarks: tansu (`broker`), rotel (`rotel`) and a worker
child process (`worker`). Never used by a production worker."""
