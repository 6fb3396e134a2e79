// The GPIO system of a running board: the real chips (libgpiod) or the simulated board's mock
// chip, chosen at startup. One concrete `GPIOSystem` for the program, so the startup code that is
// generic over `GPIOSystem` (chip and line lookup, requests, every error message) is compiled
// once in the board binary rather than once per backend: about 18 KB of a 256 KiB budget.

import LoopCore
import LoopLinux

/// Either libgpiod's chips or the simulated board, behind one `GPIOSystem`.
package struct BoardGPIO: GPIOSystem, ~Copyable {
  /// The simulated board's chips (empty on a real board); the caller adds the sim chip.
  package var mock = SimulatedGPIO()
  private var chips = LibgpiodSystem()
  /// True when lookups and requests go to `mock`.
  package let simulated: Bool

  /// The real chips, or the mock ones when `simulated`.
  @inline(never)
  package init(simulated: Bool) { self.simulated = simulated }

  /// Loads libgpiod for the real chips; nothing for the mock.
  package mutating func prepare() throws(GPIOError) {
    if !simulated { try chips.prepare() }
  }

  /// `prepare()` without the throw (see `GPIOSystem.prepare(_:)`).
  package mutating func prepare(_ failure: inout GPIOError) -> Bool {
    simulated || chips.prepare(&failure)
  }

  /// libgpiod's version for the real chips, empty for the mock.
  package var libraryVersion: GPIOName { simulated ? GPIOName() : chips.libraryVersion }

  /// The libgpiod API the real chips are reached through (nil when simulated or not loaded).
  package var loadedAPI: KernelABI? { simulated ? nil : chips.loadedAPI }

  /// Visits the chips of the backend in use. Out of line: inlined, both backends' loops (and
  /// the visitor in each) were compiled into every search that lists chips.
  @inline(never)
  package mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    if simulated { mock.forEachChip(visit) } else { chips.forEachChip(visit) }
  }

  /// Opens a chip of the backend in use (see `GPIOSystem.openChip(path:)`).
  package mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    simulated ? try mock.openChip(path: path) : try chips.openChip(path: path)
  }

  /// The chip opened last in the backend in use.
  package var openedChip: ChipInfo? { simulated ? mock.openedChip : chips.openedChip }

  /// The name of line `offset` of the opened chip.
  @inline(never)
  package mutating func lineName(offset: Int) -> GPIOName {
    simulated ? mock.lineName(offset: offset) : chips.lineName(offset: offset)
  }

  /// The consumer holding line `offset` of the opened chip.
  package mutating func lineConsumer(offset: Int) -> GPIOName {
    simulated ? mock.lineConsumer(offset: offset) : chips.lineConsumer(offset: offset)
  }

  /// Requests an input from the backend in use (see `GPIOSystem`).
  package mutating func requestInput(offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?)
    throws(Errno) -> LineHandle
  {
    if simulated {
      return try mock.requestInput(offset: offset, config: config, consumer: consumer, level: &level)
    }
    return try chips.requestInput(offset: offset, config: config, consumer: consumer, level: &level)
  }

  /// Requests an output from the backend in use (see `GPIOSystem`).
  package mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    if simulated { return try mock.requestOutput(offset: offset, config: config, consumer: consumer) }
    return try chips.requestOutput(offset: offset, config: config, consumer: consumer)
  }
}
