// Test support: what a mock output drove, read from its port (`SimulatedGPIO.recordsOutputs`).

import LoopGPIO

extension SimulatedOutputPort {
  /// Every change waiting in the port, oldest first (read once: the next call gives only what
  /// came after).
  public func changes() -> [OutputChange] {
    var all: [OutputChange] = []
    while let change = nextChange() { all.append(change) }
    return all
  }
}
