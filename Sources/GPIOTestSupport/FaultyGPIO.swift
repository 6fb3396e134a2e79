// Test support: a `GPIOSystem` around the simulated board's `SimulatedGPIO` that also produces the
// startup failures a real system gives: a line held by another consumer (the kernel's EBUSY,
// with the consumer's name) and a chip the user cannot open (EACCES, shown without its label
// and lines in a listing). Host tests only; never on the board.

import LoopCore
import LoopGPIO
import LoopLinux

/// A `SimulatedGPIO` with lines held by other consumers and chips without access.
public struct FaultyGPIO: GPIOSystem, ~Copyable {
  /// The simulated chips.
  public var mock: SimulatedGPIO
  private var denied: [GPIOName] = []
  private var busy: [(path: GPIOName, offset: Int, consumer: GPIOName)] = []

  /// The chips of `mock`, with no faults yet.
  public init(_ mock: consuming SimulatedGPIO) { self.mock = mock }

  /// Makes line `offset` of chip `chip` (an index, in the order the chips were added) held by
  /// `consumer` (empty: a consumer with no name).
  public mutating func markBusy(chip: Int, offset: Int, consumer: GPIOName) {
    busy.append((path(chip), offset, consumer))
  }

  /// Makes chip `chip` impossible to open, as a device without group access is.
  public mutating func denyAccess(chip: Int) { denied.append(path(chip)) }

  private mutating func path(_ chip: Int) -> GPIOName {
    var paths: [GPIOName] = []
    mock.forEachChip { paths.append($0.path) }
    return paths[chip]
  }

  private func heldBy(_ offset: Int) -> GPIOName? {
    guard let chip = mock.openedChip else { return nil }
    return busy.first { $0.path == chip.path && $0.offset == offset }?.consumer
  }

  // MARK: GPIOSystem

  public mutating func prepare() throws(GPIOError) { try mock.prepare() }

  public var libraryVersion: GPIOName { mock.libraryVersion }

  /// Every chip; one without access has no label and no lines, as a real system shows it.
  public mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    let denied = self.denied
    mock.forEachChip { chip in
      if denied.contains(chip.path) {
        visit(ChipInfo(name: chip.name, label: GPIOName(), path: chip.path, lineCount: 0, accessible: false))
      } else {
        visit(chip)
      }
    }
  }

  public mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    if denied.contains(path) { throw .accessDenied }
    return try mock.openChip(path: path)
  }

  public var openedChip: ChipInfo? { mock.openedChip }

  public mutating func lineName(offset: Int) -> GPIOName { mock.lineName(offset: offset) }

  public mutating func lineConsumer(offset: Int) -> GPIOName {
    heldBy(offset) ?? mock.lineConsumer(offset: offset)
  }

  public mutating func requestInput(offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?)
    throws(Errno) -> LineHandle
  {
    if heldBy(offset) != nil { throw .busy }
    return try mock.requestInput(offset: offset, config: config, consumer: consumer, level: &level)
  }

  public mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    if heldBy(offset) != nil { throw .busy }
    return try mock.requestOutput(offset: offset, config: config, consumer: consumer)
  }
}
