// The real GPIO system: libgpiod v1 (1.6.3) over the kernel's GPIO character devices. Startup
// only: it lists and opens chips, reads line names and requests lines; after that the event
// path (InputLine) and outputs (OutputLine) use only the fds and line handles it returned.
// libgpiod allocates inside these calls (its chip iterator, its chip objects); nothing here
// runs once the loop is started.

import CGPIOD
import LoopCore
import LoopLinux

/// The GPIO chips of this machine, through libgpiod.
public struct LibgpiodSystem: GPIOSystem, ~Copyable {
  /// Chip numbers probed when the chip list cannot be read whole (a chip this user may not
  /// open makes libgpiod's iterator fail): enough for any board's `/dev/gpiochipN`.
  public static var probedChips: Int { 64 }

  private var chip: OpaquePointer?
  /// The chip opened last for lookups.
  public private(set) var openedChip: ChipInfo?

  /// No chip opened yet.
  public init() {}

  deinit {
    if let chip { gpiod_chip_close(chip) }
  }

  /// Visits every chip libgpiod's iterator finds (`/dev/gpiochip*`, sorted by name). When a
  /// chip cannot be opened the iterator fails as a whole, so chips are then probed one by one
  /// and those denied are visited as inaccessible.
  public mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    if let iterator = gpiod_chip_iter_new() {
      while let next = gpiod_chip_iter_next(iterator) { visit(Self.info(next)) }
      gpiod_chip_iter_free(iterator)
      return
    }
    for number in 0..<Self.probedChips {
      if let opened = gpiod_chip_open_by_number(UInt32(number)) {
        visit(Self.info(opened))
        gpiod_chip_close(opened)
        continue
      }
      let error = Errno(rawValue: LinuxCalls.lastErrno())
      guard error == .accessDenied || error == .notPermitted else { continue }
      var name = GPIOName("gpiochip")
      name.append(decimal: number)
      var path = GPIOName("/dev/")
      path.append(name)
      visit(ChipInfo(name: name, label: GPIOName(), path: path, lineCount: 0, accessible: false))
    }
  }

  /// Opens the chip at `path`. The corresponding C function is `gpiod_chip_open`.
  public mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    let opened = try Self.open(path)
    if let chip { gpiod_chip_close(chip) }
    chip = opened
    let info = Self.info(opened)
    openedChip = info
    return info
  }

  /// The name of line `offset`. The corresponding C function is `gpiod_line_name`.
  public mutating func lineName(offset: Int) -> GPIOName {
    guard let line = line(offset) else { return GPIOName() }
    return GPIOName(cString: gpiod_line_name(line))
  }

  /// Who holds line `offset`, freshly read from the kernel. The corresponding C function is
  /// `gpiod_line_consumer`.
  public mutating func lineConsumer(offset: Int) -> GPIOName {
    guard let line = line(offset) else { return GPIOName() }
    _ = gpiod_line_update(line)
    return GPIOName(cString: gpiod_line_consumer(line))
  }

  /// Requests line `offset` for edge events on a chip handle of its own, and makes its event
  /// fd nonblocking. The corresponding C function is `gpiod_line_request`.
  public mutating func requestInput(
    offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?
  ) throws(Errno) -> LineHandle {
    var type: Int32
    switch config.edges {
    case .rising: type = Self.flag(GPIOD_LINE_REQUEST_EVENT_RISING_EDGE)
    case .falling: type = Self.flag(GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE)
    case .both: type = Self.flag(GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES)
    }
    var flags = config.activeLow ? Self.flag(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
    switch config.bias {
    case .asIs: break
    case .disabled: flags |= Self.flag(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
    case .pullUp: flags |= Self.flag(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
    case .pullDown: flags |= Self.flag(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
    }
    let (owner, line) = try request(offset, type: type, flags: flags, consumer: consumer, value: 0)
    let fd = gpiod_line_event_get_fd(line)
    do throws(Errno) {
      guard fd >= 0 else { throw Errno(rawValue: LinuxCalls.lastErrno()) }
      // The fd belongs to libgpiod: borrow it as a FileDescriptor just to set O_NONBLOCK, so an
      // edge-triggered reader can read until EAGAIN, then give it back unclosed.
      let view = FileDescriptor(adopting: fd)
      var failure: Errno?
      do { try view.setNonBlocking() } catch { failure = error }
      _ = view.release()
      if let failure { throw failure }
    } catch {
      gpiod_chip_close(owner)
      throw error
    }
    let value = gpiod_line_get_value(line)
    level = value < 0 ? nil : value != 0
    return LineHandle(chip: owner, line: line, eventFD: fd)
  }

  /// Requests line `offset` as an output at `config.initial`, on a chip handle of its own.
  /// The corresponding C function is `gpiod_line_request`.
  public mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    var flags = config.activeLow ? Self.flag(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
    switch config.drive {
    case .pushPull: break
    case .openDrain: flags |= Self.flag(GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN)
    case .openSource: flags |= Self.flag(GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE)
    }
    let (owner, line) = try request(
      offset, type: Self.flag(GPIOD_LINE_REQUEST_DIRECTION_OUTPUT), flags: flags,
      consumer: consumer, value: config.initial ? 1 : 0)
    return LineHandle(chip: owner, line: line, eventFD: -1)
  }

  // MARK: Internals

  /// Opens the opened chip's path again, so the requested line has a chip handle of its own
  /// (closing it releases the line), then requests the line.
  private mutating func request(
    _ offset: Int, type: Int32, flags: Int32, consumer: GPIOName, value: Int32
  ) throws(Errno) -> (OpaquePointer, OpaquePointer) {
    guard let path = openedChip?.path else { bug("LibgpiodSystem.request: no chip opened") }
    let owner = try Self.open(path)
    guard let line = gpiod_chip_get_line(owner, UInt32(offset)) else {
      let error = Errno(rawValue: LinuxCalls.lastErrno())
      gpiod_chip_close(owner)
      throw error
    }
    let result = consumer.withCString { name in
      var request = gpiod_line_request_config(consumer: name, request_type: type, flags: flags)
      let status = gpiod_line_request(line, &request, value)
      return status == 0 ? Errno?.none : Errno(rawValue: LinuxCalls.lastErrno())
    }
    if let result {
      gpiod_chip_close(owner)
      throw result
    }
    return (owner, line)
  }

  private mutating func line(_ offset: Int) -> OpaquePointer? {
    guard let chip, offset >= 0, offset < openedChip?.lineCount ?? 0 else { return nil }
    return gpiod_chip_get_line(chip, UInt32(offset))
  }

  private static func open(_ path: GPIOName) throws(Errno) -> OpaquePointer {
    var error: Int32 = 0
    let opened = path.withCString { cPath in
      let chip = gpiod_chip_open(cPath)
      if chip == nil { error = LinuxCalls.lastErrno() }
      return chip
    }
    guard let opened else { throw Errno(rawValue: error) }
    return opened
  }

  private static func info(_ chip: OpaquePointer) -> ChipInfo {
    let name = GPIOName(cString: gpiod_chip_name(chip))
    var path = GPIOName("/dev/")
    path.append(name)
    return ChipInfo(
      name: name, label: GPIOName(cString: gpiod_chip_label(chip)), path: path,
      lineCount: Int(gpiod_chip_num_lines(chip)))
  }

  private static func flag<T: BinaryInteger>(_ bit: T) -> Int32 { Int32(truncatingIfNeeded: bit) }
}
