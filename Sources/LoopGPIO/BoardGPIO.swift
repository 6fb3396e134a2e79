// The GPIO system of a running board: the real chips (libgpiod) or the simulated board's mock
// chip, chosen at startup. One concrete `GPIOSystem` for the program, so the startup code that is
// generic over `GPIOSystem` (chip and line lookup, requests, every error message) is compiled
// once in the board binary rather than once per backend: about 18 KB of a 256 KiB budget.

import LoopCore
import LoopLinux

/// Either libgpiod's chips or the simulated board, behind one `GPIOSystem`.
public struct BoardGPIO: GPIOSystem, ~Copyable {
  /// The simulated board's chips (empty on a real board); the caller adds the sim chip.
  public var mock = MockGPIO()
  private var chips = LibgpiodSystem()
  /// True when lookups and requests go to `mock`.
  public let simulated: Bool

  /// The real chips, or the mock ones when `simulated`.
  public init(simulated: Bool) { self.simulated = simulated }

  public mutating func prepare() throws(GPIOError) {
    if !simulated { try chips.prepare() }
  }

  public var libraryVersion: GPIOName { simulated ? GPIOName() : chips.libraryVersion }

  /// The libgpiod API the real chips are reached through (nil when simulated or not loaded).
  public var loadedAPI: KernelABI? { simulated ? nil : chips.loadedAPI }

  public mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    if simulated { mock.forEachChip(visit) } else { chips.forEachChip(visit) }
  }

  public mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    simulated ? try mock.openChip(path: path) : try chips.openChip(path: path)
  }

  public var openedChip: ChipInfo? { simulated ? mock.openedChip : chips.openedChip }

  public mutating func lineName(offset: Int) -> GPIOName {
    simulated ? mock.lineName(offset: offset) : chips.lineName(offset: offset)
  }

  public mutating func lineConsumer(offset: Int) -> GPIOName {
    simulated ? mock.lineConsumer(offset: offset) : chips.lineConsumer(offset: offset)
  }

  public mutating func requestInput(offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?)
    throws(Errno) -> LineHandle
  {
    if simulated {
      return try mock.requestInput(offset: offset, config: config, consumer: consumer, level: &level)
    }
    return try chips.requestInput(offset: offset, config: config, consumer: consumer, level: &level)
  }

  public mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    if simulated { return try mock.requestOutput(offset: offset, config: config, consumer: consumer) }
    return try chips.requestOutput(offset: offset, config: config, consumer: consumer)
  }
}
