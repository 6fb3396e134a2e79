// Startup: finding a chip by label, name or path and a line by name (with alternative names for
// other kernels), requesting it, and turning every failure into a `GPIOError` with a message the
// user can act on. The search is written once, over `GPIOSystem`, which libgpiod implements for
// real (`LibgpiodSystem`) and the mock implements in memory (`SimulatedGPIO`): so the simulated board
// finds its chips exactly as a real one does, and every message is tested on a host without
// `/dev/gpiochip*`. This code runs once at startup; the C library may allocate here (its
// iterators do), the Swift code does not.

import LoopCore
import LoopLinux

/// A GPIO chip as a `GPIOSystem` lists it.
public struct ChipInfo: Equatable, Sendable {
  /// The device name (`gpiochip0`).
  public var name: GPIOName
  /// The driver's label (`pinctrl-bcm2711`); empty when the chip could not be opened.
  public var label: GPIOName
  /// The device path (`/dev/gpiochip0`).
  public var path: GPIOName
  /// How many lines the chip has (0 when it could not be opened).
  public var lineCount: Int
  /// Whether this user can open the chip.
  public var accessible: Bool

  /// A chip record.
  @inline(never)
  public init(name: GPIOName, label: GPIOName, path: GPIOName, lineCount: Int, accessible: Bool = true) {
    self.name = name
    self.label = label
    self.path = path
    self.lineCount = lineCount
    self.accessible = accessible
  }
}

/// How to find a chip. Never by a hard-coded number: it differs between boards and kernels.
public enum ChipSelector: Equatable, Sendable {
  /// By the driver's label, e.g. `pinctrl-bcm2711` (Pi 4) or `pinctrl-rp1` (Pi 5).
  case label(GPIOName)
  /// By device name, e.g. `gpiochip0`.
  case name(GPIOName)
  /// By device path, e.g. `/dev/gpiochip0`.
  case path(GPIOName)
}

/// How to find a line: by name, with up to three alternative names, and optionally by offset
/// as a last resort (on a chip found by label, where offsets are known).
public struct LineSelector: Equatable, Sendable {
  /// Names tried, most preferred first.
  public static var nameCapacity: Int { 4 }

  private var names = InlineArray<4, GPIOName>(first: GPIOName()) { $0 }
  /// How many names are set.
  public private(set) var nameCount = 0
  /// The offset used when no name matches.
  public var offset: Int?

  /// A line named `name`.
  public init(_ name: GPIOName, offset: Int? = nil) {
    names[0] = name
    nameCount = 1
    self.offset = offset
  }

  /// A line named `name`, else `alternative`, else `alternative2`, else at `offset`.
  public init(
    _ name: StaticString, or alternative: StaticString? = nil, or alternative2: StaticString? = nil,
    offset: Int? = nil
  ) {
    self.init(GPIOName(name), offset: offset)
    if let alternative { _ = add(alternative: GPIOName(alternative)) }
    if let alternative2 { _ = add(alternative: GPIOName(alternative2)) }
  }

  /// Adds a name to try after those already set; false when `nameCapacity` are set.
  public mutating func add(alternative: GPIOName) -> Bool {
    guard nameCount < Self.nameCapacity else { return false }
    names[nameCount] = alternative
    nameCount += 1
    return true
  }

  /// The `index`-th name (0 is the preferred one).
  @inline(never)
  public func name(_ index: Int) -> GPIOName {
    precondition(index >= 0 && index < nameCount, "LineSelector.name: index out of range")
    return names[index]
  }

  /// Whether both try the same names in the same order and the same offset.
  public static func == (lhs: LineSelector, rhs: LineSelector) -> Bool {
    guard lhs.nameCount == rhs.nameCount, lhs.offset == rhs.offset else { return false }
    for i in 0..<lhs.nameCount where lhs.names[i] != rhs.names[i] { return false }
    return true
  }
}

/// The GPIO chips of a system, as the startup search needs them. `LibgpiodSystem` is the real
/// one; `SimulatedGPIO` is the simulated board and the tests' injectable chip list.
///
/// Lookups and requests apply to the chip opened last (`openChip`).
public protocol GPIOSystem: ~Copyable {
  /// Makes the system usable (libgpiod: loads the library); throws what to install when it
  /// cannot. Called before the first chip is opened.
  mutating func prepare() throws(GPIOError)
  /// `prepare()` without the throw: false with `failure` (a fresh `GPIOError(.system)`) written
  /// when it fails. The default calls `prepare()`.
  mutating func prepare(_ failure: inout GPIOError) -> Bool
  /// The GPIO library's version when one is loaded (`2.2.1`), else empty (the mock).
  var libraryVersion: GPIOName { get }
  /// Calls `visit` for every GPIO chip device; chips that cannot be opened are visited with
  /// `accessible == false`.
  mutating func forEachChip(_ visit: (ChipInfo) -> Void)
  /// Opens the chip at `path` for lookups and requests. Throws `.noEntry` when nothing is
  /// there, `.accessDenied`/`.notPermitted` without permission, `.noDevice`/`.notTerminal`
  /// when the path is not a GPIO chip.
  mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo
  /// The chip opened last, if any.
  var openedChip: ChipInfo? { get }
  /// The name of line `offset` of the opened chip; empty when unnamed.
  mutating func lineName(offset: Int) -> GPIOName
  /// The consumer holding line `offset` of the opened chip; empty when free or unnamed.
  mutating func lineConsumer(offset: Int) -> GPIOName
  /// Requests line `offset` of the opened chip as an input for `consumer`; sets `level` to
  /// its logical level when it can be read.
  mutating func requestInput(offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?)
    throws(Errno) -> LineHandle
  /// Requests line `offset` of the opened chip as an output for `consumer`.
  mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
}

extension GPIOSystem where Self: ~Copyable {
  // Each public lookup builds its one error in place: the steps below write a failure into
  // `failure` (made by `GPIOError(.system)`, its message still "gpio: ") and return nil, and
  // only the public function throws it. A `GPIOError` is over 1 KB; returned and rethrown at
  // every step it was copied at every step (startup code, 3 KB of copies).

  /// Calls `prepare()`, writing what it throws into `failure`.
  public mutating func prepare(_ failure: inout GPIOError) -> Bool {
    do { try prepare() } catch {
      failure = error
      return false
    }
    return true
  }

  /// Finds and opens the chip `selector` names.
  @inline(never)
  public mutating func openChip(_ selector: ChipSelector) throws(GPIOError) -> ChipInfo {
    var failure = GPIOError(.system)
    guard let chip = open(selector, &failure) else { throw failure }
    return chip
  }

  /// Finds the line `selector` names on the opened chip.
  @inline(never)
  public mutating func findLine(_ selector: LineSelector) throws(GPIOError) -> LineSource {
    var failure = GPIOError(.system)
    guard let line = find(selector, &failure) else { throw failure }
    return line
  }

  /// Finds and requests an input on the chip `chip` names; `consumer` is the name other
  /// programs see holding the line.
  @inline(never)
  public mutating func requestInput(
    _ line: LineSelector, on chip: ChipSelector, _ config: InputConfig,
    consumer: GPIOName = GPIOName("sensorloop")
  ) throws(GPIOError) -> InputLine {
    var failure = GPIOError(.system)
    guard let requested = requestInput(line, on: chip, config, consumer: consumer, failure: &failure) else {
      throw failure
    }
    return requested
  }

  /// `requestInput(_:on:_:consumer:)` without the throw: nil with `failure` written when it
  /// fails. The board's startup uses it, so the 1 KB error is not copied at the throw.
  @inline(never)
  package mutating func requestInput(
    _ line: LineSelector, on chip: ChipSelector, _ config: InputConfig, consumer: GPIOName,
    failure: inout GPIOError
  ) -> InputLine? {
    guard case .some = open(chip, &failure), let found = find(line, &failure) else { return nil }
    var level: Bool?
    do {
      let handle = try requestInput(offset: found.offset, config: config, consumer: consumer, level: &level)
      return InputLine(handle, config: config, source: found, initialLevel: level)
    } catch {
      requestFailed(error, found, &failure)
      return nil
    }
  }

  /// Finds and requests an output on the chip `chip` names, set to `config.initial` at `time`.
  @inline(never)
  public mutating func requestOutput(
    _ line: LineSelector, on chip: ChipSelector, _ config: OutputConfig, at time: Instant,
    consumer: GPIOName = GPIOName("sensorloop")
  ) throws(GPIOError) -> OutputLine {
    var failure = GPIOError(.system)
    guard
      let requested = requestOutput(line, on: chip, config, at: time, consumer: consumer, failure: &failure)
    else { throw failure }
    return requested
  }

  /// `requestOutput(_:on:_:at:consumer:)` without the throw: nil with `failure` written when
  /// it fails (see `requestInput(_:on:_:consumer:failure:)`).
  @inline(never)
  package mutating func requestOutput(
    _ line: LineSelector, on chip: ChipSelector, _ config: OutputConfig, at time: Instant, consumer: GPIOName,
    failure: inout GPIOError
  ) -> OutputLine? {
    guard case .some = open(chip, &failure), let found = find(line, &failure) else { return nil }
    do {
      let handle = try requestOutput(offset: found.offset, config: config, consumer: consumer)
      return OutputLine(handle, config: config, source: found, at: time)
    } catch {
      requestFailed(error, found, &failure)
      return nil
    }
  }

  /// `openChip(_:)`'s search; nil with `failure` written when it fails.
  private mutating func open(_ selector: ChipSelector, _ failure: inout GPIOError) -> ChipInfo? {
    guard prepare(&failure) else { return nil }
    var path: GPIOName
    switch selector {
    case .label(let label):
      var search = LabelSearch(label: label)
      forEachChip { search.visit($0) }
      guard let found = search.found else {
        // The chip may be one this user cannot open: say so rather than "not found".
        if let denied = search.denied {
          permissionDenied(denied, &failure)
        } else {
          chipNotFound(selector, errno: nil, &failure)
        }
        return nil
      }
      path = found
    case .name(let name):
      path = GPIOName("/dev/")
      path.append(name)
    case .path(let named):
      path = named
    }
    return open(path: path, asked: selector, &failure)
  }

  /// `findLine(_:)`'s search; nil with `failure` written when no line matches.
  private mutating func find(_ selector: LineSelector, _ failure: inout GPIOError) -> LineSource? {
    guard let chip = openedChip else { bug("GPIOSystem.findLine: no chip opened") }
    var best = -1
    var bestRank = LineSelector.nameCapacity
    for offset in 0..<chip.lineCount {
      let name = lineName(offset: offset)
      if name.isEmpty { continue }
      for rank in 0..<min(selector.nameCount, bestRank) where name == selector.name(rank) {
        best = offset
        bestRank = rank
        break
      }
      if bestRank == 0 { break }
    }
    if best >= 0 {
      return source(chip, offset: best, matched: bestRank)
    }
    if let offset = selector.offset, offset >= 0, offset < chip.lineCount {
      return source(chip, offset: offset, matched: -1)
    }
    lineNotFound(selector, on: chip, &failure)
    return nil
  }

  // MARK: Errors

  private mutating func open(path: GPIOName, asked: ChipSelector, _ failure: inout GPIOError) -> ChipInfo? {
    do {
      return try openChip(path: path)
    } catch {
      switch error {
      case .accessDenied, .notPermitted: permissionDenied(path, &failure)
      case .noEntry, .notDirectory: chipNotFound(asked, errno: error, &failure)
      case .noDevice, .notTerminal, .noDeviceOrAddress, .isDirectory:
        failure.kind = .notAChip
        failure.errno = error
        failure.message.append(path)
        failure.message.append(" is not a GPIO chip: ")
        failure.message.append(errno: error)
        appendChipList(&failure.message)
      default:
        failure.errno = error
        failure.message.append("opening ")
        failure.message.append(path)
        failure.message.append(": ")
        failure.message.append(errno: error)
      }
      return nil
    }
  }

  private mutating func chipNotFound(_ asked: ChipSelector, errno: Errno?, _ e: inout GPIOError) {
    e.kind = .chipNotFound
    e.errno = errno
    switch asked {
    case .label(let label):
      e.message.append("no chip labelled ")
      e.message.append(quoted: label)
    case .name(let name):
      e.message.append("no chip named ")
      e.message.append(quoted: name)
    case .path(let path):
      e.message.append("no chip at ")
      e.message.append(quoted: path)
    }
    let version = libraryVersion
    if !version.isEmpty {
      e.message.append(" (libgpiod ")
      e.message.append(version)
      e.message.append(")")
    }
    appendChipList(&e.message)
  }

  /// Appends "; chips: gpiochip0 [label] (54 lines), ..." or a note that there are none. A chip
  /// seen twice (the Pi 5's `gpiochip4` symlink to `gpiochip0`) is listed once.
  private mutating func appendChipList(_ message: inout FixedText<1024>) {
    var listed = 0
    var seen = InlineArray<16, GPIOName>(first: GPIOName()) { $0 }
    forEachChip { chip in
      for i in 0..<min(listed, 16) where seen[i] == chip.name { return }
      if listed < 16 { seen[listed] = chip.name }
      message.append(listed == 0 ? "; chips: " : ", ")
      message.append(chip: chip)
      if chip.accessible {
        message.append(" (")
        message.append(decimal: chip.lineCount)
        message.append(" lines)")
      }
      listed += 1
    }
    if listed == 0 {
      message.append("; no GPIO chips found (no /dev/gpiochip*: a kernel without GPIO support?)")
    }
  }

  private func permissionDenied(_ path: GPIOName, _ e: inout GPIOError) {
    e.kind = .permissionDenied
    e.errno = .accessDenied
    e.message.append("permission denied opening ")
    e.message.append(path)
    e.message.append(": the user needs to be in the \"gpio\" group")
    e.message.append(" (sudo usermod -aG gpio $USER, then log in again)")
  }

  private mutating func lineNotFound(_ selector: LineSelector, on chip: ChipInfo, _ e: inout GPIOError) {
    e.kind = .lineNotFound
    e.message.append("no line named ")
    e.message.append(quoted: selector.name(0))
    for i in 1..<selector.nameCount {
      e.message.append(i == 1 ? " (nor " : ", ")
      e.message.append(quoted: selector.name(i))
      if i == selector.nameCount - 1 { e.message.append(")") }
    }
    if let offset = selector.offset {
      e.message.append(" and no offset ")
      e.message.append(decimal: offset)
    }
    e.message.append(" on ")
    e.message.append(chip: chip)
    e.message.append("; its lines: ")
    var unnamed = 0
    var named = 0
    for offset in 0..<chip.lineCount {
      let name = lineName(offset: offset)
      if name.isEmpty {
        unnamed += 1
        continue
      }
      if named > 0 { e.message.append(", ") }
      e.message.append(name)
      named += 1
    }
    if named == 0 { e.message.append("none named") }
    e.message.append(" (")
    e.message.append(decimal: chip.lineCount)
    e.message.append(" lines")
    if unnamed > 0 {
      e.message.append(", ")
      e.message.append(decimal: unnamed)
      e.message.append(" unnamed")
    }
    e.message.append(")")
  }

  private mutating func requestFailed(_ error: Errno, _ line: LineSource, _ e: inout GPIOError) {
    switch error {
    case .busy:
      e.kind = .lineBusy
      e.errno = error
      appendLine(line, &e.message)
      e.message.append(" is busy: ")
      let consumer = lineConsumer(offset: line.offset)
      if consumer.isEmpty {
        e.message.append("another consumer holds it (it gave no name)")
      } else {
        e.message.append("used by ")
        e.message.append(quoted: consumer)
      }
    case .accessDenied, .notPermitted:
      permissionDenied(line.chipPath, &e)
    default:
      e.errno = error
      e.message.append("requesting ")
      appendLine(line, &e.message)
      e.message.append(": ")
      e.message.append(errno: error)
    }
  }

  private func appendLine(_ line: LineSource, _ message: inout FixedText<1024>) {
    message.append("line ")
    if line.name.isEmpty {
      message.append("#")
      message.append(decimal: line.offset)
    } else {
      message.append(line.name)
    }
    message.append(" (")
    message.append(line.chipName)
    message.append(" [")
    message.append(line.chipLabel)
    message.append("] offset ")
    message.append(decimal: line.offset)
    message.append(")")
  }

  private mutating func source(_ chip: ChipInfo, offset: Int, matched: Int) -> LineSource {
    LineSource(
      chipName: chip.name, chipLabel: chip.label, chipPath: chip.path, offset: offset,
      name: lineName(offset: offset), matched: matched)
  }
}

/// The search for a chip by label: the path of the first accessible chip with the label, and of
/// the first chip this user cannot open. Its visit is out of line: the visitor is inlined into
/// every chip loop of both backends.
private struct LabelSearch {
  let label: GPIOName
  var found: GPIOName?
  var denied: GPIOName?

  init(label: GPIOName) { self.label = label }

  @inline(never)
  mutating func visit(_ chip: ChipInfo) {
    if case .none = found, chip.accessible, chip.label == label { found = chip.path }
    if case .none = denied, !chip.accessible { denied = chip.path }
  }
}
