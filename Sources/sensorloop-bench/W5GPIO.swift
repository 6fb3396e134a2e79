// W5 GPIO edges: edges delivered through the mock GPIO path (the same decode path as libgpiod's
// line events), edge → task latency and edges lost at 1, 10 and 50 kHz.

/// The W5 lines (pending until LoopGPIO's mock backend lands).
func runW5(quick: Bool) -> [ResultLine] {
  print("# w5: pending (LoopGPIO's mock edge path has not landed)")
  return []
}
