// The real GPIO system: libgpiod over the kernel's GPIO character devices, v2 (libgpiod 2.x,
// Pi OS trixie) or v1 (libgpiod 1.6, bookworm), whichever CGPIOD's loader found at startup.
// Startup only: it lists and opens chips, reads line names and requests lines; after that the
// event path (InputLine) and outputs (OutputLine) use only the fds and handles it returned.
// libgpiod allocates inside these calls (its chip and request objects); nothing here runs once
// the loop is started.

import CGPIOD
import LoopCore
import LoopLinux

/// The GPIO chips of this machine, through libgpiod v2 or v1.
///
/// Loaded at run time by `prepare()` (libgpiod.so.3, else libgpiod.so.2): the program starts
/// without it. Its lookups and requests are startup calls (ioctls on the chip, which return at
/// once); the lines they give are then read on the loop without it. Probes up to `probedChips`
/// chips; holds one chip open; never allocates on the Swift heap.
public struct LibgpiodSystem: GPIOSystem, ~Copyable {
  /// Chip numbers probed when the chips are found by number (v2 has no chip iterator; v1's
  /// fails as a whole when one chip cannot be opened): enough for any board's `/dev/gpiochipN`.
  public static var probedChips: Int { 64 }

  private var chip: OpaquePointer?
  private var api: KernelABI?
  /// The chip opened last for lookups.
  public private(set) var openedChip: ChipInfo?

  /// No chip opened yet; libgpiod is loaded by `prepare()`.
  public init() {}

  deinit {
    if let chip { Self.close(chip, api) }
  }

  /// The libgpiod API loaded, when one is (`prepare()` loads it).
  public var loadedAPI: KernelABI? { Self.loaded }

  /// Loads libgpiod (libgpiod.so.3, else libgpiod.so.2; `$SENSORLOOP_LIBGPIOD` names another
  /// file), once per process. Throws `.libraryMissing` with what to install when neither is
  /// there.
  public mutating func prepare() throws(GPIOError) {
    var failure = GPIOError(.system)
    guard prepare(&failure) else { throw failure }
  }

  /// `prepare()` without the throw: false with `failure` (a fresh `GPIOError(.system)`) written
  /// when neither library loads. The board's startup uses it: the 1 KB error is not copied.
  public mutating func prepare(_ failure: inout GPIOError) -> Bool {
    if api != nil { return true }
    _ = cg_gpiod_load(nil)
    guard let loaded = Self.loaded else {
      failure.kind = .libraryMissing
      failure.errno = nil
      failure.message.append("libgpiod is not installed (neither libgpiod.so.3 nor libgpiod.so.2 loads): ")
      failure.message.append("sudo apt install libgpiod3 on Raspberry Pi OS trixie (Debian 13), ")
      failure.message.append("libgpiod2 on bookworm (Debian 12); the loader said: ")
      failure.message.append(cString: cg_gpiod_error())
      return false
    }
    api = loaded
    return true
  }

  /// Loads libgpiod from `path` only (tests point this at a build folder's copy).
  package static func load(path: GPIOName) -> KernelABI? {
    _ = path.withCString { cg_gpiod_load($0) }
    return loaded
  }

  /// The loaded library's version (`2.2.1`, `1.6.3`), empty when none is loaded.
  public static var version: GPIOName { GPIOName(cString: cg_gpiod_version()) }

  /// The loaded library's version.
  public var libraryVersion: GPIOName { Self.version }

  /// The loader's message after a failed load.
  public static var loadError: FixedText<256> { FixedText(cString: cg_gpiod_error()) }

  private static var loaded: KernelABI? {
    switch cg_gpiod_api() {
    case 2: .v2
    case 1: .v1
    default: nil
    }
  }

  /// Visits every chip. v1: libgpiod's iterator (`/dev/gpiochip*`, sorted by name); when a chip
  /// cannot be opened the iterator fails as a whole, so chips are then probed one by one. v2:
  /// `/dev/gpiochip0` ... `/dev/gpiochip63` probed. Chips this user may not open are visited as
  /// inaccessible. A chip reached through a symlink (the Pi 5's `gpiochip4`) is visited under
  /// its kernel name.
  public mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    guard let api else { return }
    if api == .v1, let iterator = cg_v1_gpiod_chip_iter_new() {
      while let next = cg_v1_gpiod_chip_iter_next(iterator) { visit(Self.info(next, .v1)) }
      cg_v1_gpiod_chip_iter_free(iterator)
      return
    }
    for number in 0..<Self.probedChips {
      var name = GPIOName("gpiochip")
      name.append(decimal: number)
      var path = GPIOName("/dev/")
      path.append(name)
      if let opened = try? Self.open(path, api) {
        visit(Self.info(opened, api))
        Self.close(opened, api)
        continue
      }
      let error = Errno(rawValue: LinuxCalls.lastErrno())
      guard error == .accessDenied || error == .notPermitted else { continue }
      visit(ChipInfo(name: name, label: GPIOName(), path: path, lineCount: 0, accessible: false))
    }
  }

  /// Opens the chip at `path`. The corresponding C function is `gpiod_chip_open`.
  public mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    guard let api else { bug("LibgpiodSystem.openChip: libgpiod not loaded (prepare first)") }
    let opened = try Self.open(path, api)
    if let chip { Self.close(chip, api) }
    chip = opened
    let info = Self.info(opened, api)
    openedChip = info
    return info
  }

  /// The name of line `offset`. The corresponding C function is `gpiod_line_name` (v1) or
  /// `gpiod_line_info_get_name` (v2).
  public mutating func lineName(offset: Int) -> GPIOName {
    guard let chip, let api, offset >= 0, offset < openedChip?.lineCount ?? 0 else { return GPIOName() }
    switch api {
    case .v1:
      guard let line = cg_v1_gpiod_chip_get_line(chip, UInt32(offset)) else { return GPIOName() }
      return GPIOName(cString: cg_v1_gpiod_line_name(line))
    case .v2:
      guard let info = cg_v2_gpiod_chip_get_line_info(chip, UInt32(offset)) else { return GPIOName() }
      defer { cg_v2_gpiod_line_info_free(info) }
      return GPIOName(cString: cg_v2_gpiod_line_info_get_name(info))
    }
  }

  /// Who holds line `offset`, freshly read from the kernel. The corresponding C function is
  /// `gpiod_line_consumer` (v1) or `gpiod_line_info_get_consumer` (v2).
  public mutating func lineConsumer(offset: Int) -> GPIOName {
    guard let chip, let api, offset >= 0, offset < openedChip?.lineCount ?? 0 else { return GPIOName() }
    switch api {
    case .v1:
      guard let line = cg_v1_gpiod_chip_get_line(chip, UInt32(offset)) else { return GPIOName() }
      _ = cg_v1_gpiod_line_update(line)
      return GPIOName(cString: cg_v1_gpiod_line_consumer(line))
    case .v2:
      guard let info = cg_v2_gpiod_chip_get_line_info(chip, UInt32(offset)) else { return GPIOName() }
      defer { cg_v2_gpiod_line_info_free(info) }
      return GPIOName(cString: cg_v2_gpiod_line_info_get_consumer(info))
    }
  }

  /// Requests line `offset` for edge events and makes its event fd nonblocking. v1: on a chip
  /// handle of its own, debounced later in software. v2: one line request carrying the
  /// debounce period (the kernel debounces) and the kernel queue size. The corresponding C
  /// functions are `gpiod_line_request` (v1) and `gpiod_chip_request_lines` (v2).
  public mutating func requestInput(
    offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?
  ) throws(Errno) -> LineHandle {
    guard let api else { bug("LibgpiodSystem.requestInput: libgpiod not loaded (prepare first)") }
    if api == .v2 {
      return try requestV2(offset, input: config, output: nil, consumer: consumer, level: &level)
    }
    var type: Int32
    switch config.edges {
    case .rising: type = Int32(CG_V1_EVENT_RISING_EDGE)
    case .falling: type = Int32(CG_V1_EVENT_FALLING_EDGE)
    case .both: type = Int32(CG_V1_EVENT_BOTH_EDGES)
    }
    var flags = config.activeLow ? Int32(CG_V1_FLAG_ACTIVE_LOW) : 0
    switch config.bias {
    case .asIs: break
    case .disabled: flags |= Int32(CG_V1_FLAG_BIAS_DISABLE)
    case .pullUp: flags |= Int32(CG_V1_FLAG_BIAS_PULL_UP)
    case .pullDown: flags |= Int32(CG_V1_FLAG_BIAS_PULL_DOWN)
    }
    let (owner, line) = try requestV1(offset, type: type, flags: flags, consumer: consumer, value: 0)
    let fd = cg_v1_gpiod_line_event_get_fd(line)
    do throws(Errno) {
      guard fd >= 0 else { throw Errno(rawValue: LinuxCalls.lastErrno()) }
      try Self.setNonBlocking(fd)
    } catch {
      cg_v1_gpiod_chip_close(owner)
      throw error
    }
    let value = cg_v1_gpiod_line_get_value(line)
    level = value < 0 ? nil : value != 0
    return LineHandle(chip: owner, line: line, eventFD: fd)
  }

  /// Requests line `offset` as an output at `config.initial`. The corresponding C functions are
  /// `gpiod_line_request` (v1) and `gpiod_chip_request_lines` (v2).
  public mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    guard let api else { bug("LibgpiodSystem.requestOutput: libgpiod not loaded (prepare first)") }
    if api == .v2 {
      var level: Bool?
      return try requestV2(offset, input: nil, output: config, consumer: consumer, level: &level)
    }
    var flags = config.activeLow ? Int32(CG_V1_FLAG_ACTIVE_LOW) : 0
    switch config.drive {
    case .pushPull: break
    case .openDrain: flags |= Int32(CG_V1_FLAG_OPEN_DRAIN)
    case .openSource: flags |= Int32(CG_V1_FLAG_OPEN_SOURCE)
    }
    let (owner, line) = try requestV1(
      offset, type: Int32(CG_V1_DIRECTION_OUTPUT), flags: flags, consumer: consumer,
      value: config.initial ? 1 : 0)
    return LineHandle(chip: owner, line: line, eventFD: -1)
  }

  /// The kernel queue a v2 request asking for `asked` events gets: the kernel's FIFO rounds the
  /// size up to a power of two (`kfifo_alloc`).
  package static func grantedQueue(_ asked: Int) -> Int {
    var size = 1
    while size < asked { size <<= 1 }
    return size
  }

  // MARK: Internals

  /// v1: opens the opened chip's path again, so the requested line has a chip handle of its
  /// own (closing it releases the line), then requests the line.
  @inline(never)
  private mutating func requestV1(
    _ offset: Int, type: Int32, flags: Int32, consumer: GPIOName, value: Int32
  ) throws(Errno) -> (OpaquePointer, OpaquePointer) {
    guard let path = openedChip?.path else { bug("LibgpiodSystem.request: no chip opened") }
    let owner = try Self.open(path, .v1)
    guard let line = cg_v1_gpiod_chip_get_line(owner, UInt32(offset)) else {
      let error = Errno(rawValue: LinuxCalls.lastErrno())
      cg_v1_gpiod_chip_close(owner)
      throw error
    }
    let result = consumer.withCString { name in
      var request = cg_v1_request_config(consumer: name, request_type: type, flags: flags)
      let status = cg_v1_gpiod_line_request(line, &request, value)
      return status == 0 ? Errno?.none : Errno(rawValue: LinuxCalls.lastErrno())
    }
    if let result {
      cg_v1_gpiod_chip_close(owner)
      throw result
    }
    return (owner, line)
  }

  /// v2: one request for one line (an input when `input` is given, else an output), with its
  /// own fd; the settings and configs are freed once it is made.
  private mutating func requestV2(
    _ offset: Int, input: InputConfig?, output: OutputConfig?, consumer: GPIOName, level: inout Bool?
  ) throws(Errno) -> LineHandle {
    guard let chip else { bug("LibgpiodSystem.request: no chip opened") }
    guard let settings = cg_v2_gpiod_line_settings_new() else {
      throw Errno(rawValue: LinuxCalls.lastErrno())
    }
    defer { cg_v2_gpiod_line_settings_free(settings) }
    guard let lineConfig = cg_v2_gpiod_line_config_new() else {
      throw Errno(rawValue: LinuxCalls.lastErrno())
    }
    defer { cg_v2_gpiod_line_config_free(lineConfig) }
    guard let requestConfig = cg_v2_gpiod_request_config_new() else {
      throw Errno(rawValue: LinuxCalls.lastErrno())
    }
    defer { cg_v2_gpiod_request_config_free(requestConfig) }
    let debounceMicroseconds = input.map { Int($0.debounce.nanoseconds / 1_000) } ?? 0
    let queue = input.map { Self.grantedQueue(max(1, min($0.kernelQueue, InputConfig.maxKernelQueue))) } ?? 0
    if let input {
      _ = cg_v2_gpiod_line_settings_set_direction(settings, Int32(CG_V2_DIRECTION_INPUT))
      switch input.edges {
      case .rising: _ = cg_v2_gpiod_line_settings_set_edge_detection(settings, Int32(CG_V2_EDGE_RISING))
      case .falling: _ = cg_v2_gpiod_line_settings_set_edge_detection(settings, Int32(CG_V2_EDGE_FALLING))
      case .both: _ = cg_v2_gpiod_line_settings_set_edge_detection(settings, Int32(CG_V2_EDGE_BOTH))
      }
      switch input.bias {
      case .asIs: break
      case .disabled: _ = cg_v2_gpiod_line_settings_set_bias(settings, Int32(CG_V2_BIAS_DISABLED))
      case .pullUp: _ = cg_v2_gpiod_line_settings_set_bias(settings, Int32(CG_V2_BIAS_PULL_UP))
      case .pullDown: _ = cg_v2_gpiod_line_settings_set_bias(settings, Int32(CG_V2_BIAS_PULL_DOWN))
      }
      cg_v2_gpiod_line_settings_set_active_low(settings, input.activeLow)
      if debounceMicroseconds > 0 {
        cg_v2_gpiod_line_settings_set_debounce_period_us(settings, UInt(debounceMicroseconds))
      }
      _ = cg_v2_gpiod_line_settings_set_event_clock(settings, Int32(CG_V2_CLOCK_MONOTONIC))
      cg_v2_gpiod_request_config_set_event_buffer_size(requestConfig, queue)
    } else if let output {
      _ = cg_v2_gpiod_line_settings_set_direction(settings, Int32(CG_V2_DIRECTION_OUTPUT))
      switch output.drive {
      case .pushPull: _ = cg_v2_gpiod_line_settings_set_drive(settings, Int32(CG_V2_DRIVE_PUSH_PULL))
      case .openDrain: _ = cg_v2_gpiod_line_settings_set_drive(settings, Int32(CG_V2_DRIVE_OPEN_DRAIN))
      case .openSource: _ = cg_v2_gpiod_line_settings_set_drive(settings, Int32(CG_V2_DRIVE_OPEN_SOURCE))
      }
      cg_v2_gpiod_line_settings_set_active_low(settings, output.activeLow)
      _ = cg_v2_gpiod_line_settings_set_output_value(settings, output.initial ? 1 : 0)
    }
    var lineOffset = UInt32(offset)
    guard cg_v2_gpiod_line_config_add_line_settings(lineConfig, &lineOffset, 1, settings) == 0 else {
      throw Errno(rawValue: LinuxCalls.lastErrno())
    }
    consumer.withCString { cg_v2_gpiod_request_config_set_consumer(requestConfig, $0) }
    guard let request = cg_v2_gpiod_chip_request_lines(chip, requestConfig, lineConfig) else {
      throw Errno(rawValue: LinuxCalls.lastErrno())
    }
    guard input != nil else {
      return LineHandle(request: request, offset: offset, eventFD: -1, kernelQueue: 0, kernelDebounce: false)
    }
    let fd = cg_v2_gpiod_line_request_get_fd(request)
    do throws(Errno) {
      guard fd >= 0 else { throw Errno(rawValue: LinuxCalls.lastErrno()) }
      try Self.setNonBlocking(fd)
    } catch {
      cg_v2_gpiod_line_request_release(request)
      throw error
    }
    let value = cg_v2_gpiod_line_request_get_value(request, lineOffset)
    level = value < 0 ? nil : value != 0
    return LineHandle(
      request: request, offset: offset, eventFD: fd, kernelQueue: queue,
      kernelDebounce: debounceMicroseconds > 0)
  }

  /// The fd belongs to libgpiod: borrow it as a FileDescriptor just to set O_NONBLOCK, so an
  /// edge-triggered reader can read until EAGAIN, then give it back unclosed.
  private static func setNonBlocking(_ fd: Int32) throws(Errno) {
    let view = FileDescriptor(adopting: fd)
    var failure: Errno?
    do { try view.setNonBlocking() } catch { failure = error }
    _ = view.release()
    if let failure { throw failure }
  }

  private static func open(_ path: GPIOName, _ api: KernelABI) throws(Errno) -> OpaquePointer {
    var error: Int32 = 0
    let opened = path.withCString { cPath in
      let chip = api == .v2 ? cg_v2_gpiod_chip_open(cPath) : cg_v1_gpiod_chip_open(cPath)
      if chip == nil { error = LinuxCalls.lastErrno() }
      return chip
    }
    guard let opened else { throw Errno(rawValue: error) }
    return opened
  }

  private static func close(_ chip: OpaquePointer, _ api: KernelABI?) {
    if api == .v2 { cg_v2_gpiod_chip_close(chip) } else { cg_v1_gpiod_chip_close(chip) }
  }

  @inline(never)
  private static func info(_ chip: OpaquePointer, _ api: KernelABI) -> ChipInfo {
    var name = GPIOName()
    var label = GPIOName()
    var lines = 0
    switch api {
    case .v1:
      name = GPIOName(cString: cg_v1_gpiod_chip_name(chip))
      label = GPIOName(cString: cg_v1_gpiod_chip_label(chip))
      lines = Int(cg_v1_gpiod_chip_num_lines(chip))
    case .v2:
      if let info = cg_v2_gpiod_chip_get_info(chip) {
        name = GPIOName(cString: cg_v2_gpiod_chip_info_get_name(info))
        label = GPIOName(cString: cg_v2_gpiod_chip_info_get_label(info))
        lines = Int(cg_v2_gpiod_chip_info_get_num_lines(info))
        cg_v2_gpiod_chip_info_free(info)
      }
    }
    var path = GPIOName("/dev/")
    path.append(name)
    return ChipInfo(name: name, label: label, path: path, lineCount: lines)
  }
}
