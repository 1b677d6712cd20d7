// Command noop does nothing: the baseline for process start-up benchmarks.
package main

func main() {}
