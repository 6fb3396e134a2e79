// What starting a config can fail with, and the files the program holds open for it: shared
// by the program (sensorloop) and the task kinds' builders (Kinds/).

import LoopCore
import LoopLinux

/// A startup failure: what to print.
public struct StartupError: Error {
  /// The message, without a trailing newline.
  public var message: [UInt8]

  /// A message: `part`. (Not the variadic init: it builds an array at every call site.)
  @inline(never)
  public init(_ part: StaticString) { message = bytes(part) }

  /// A message: `part`, then ` (ENAME: message)`. Out of line: the startup steps that fail
  /// with an errno share it.
  @inline(never)
  public init(_ part: StaticString, errno: Errno) {
    self.init(part)
    add(errno: errno)
  }

  /// A message: `part`, `path`, then ` (ENAME: message)`.
  @inline(never)
  public init(_ part: StaticString, _ path: Path, errno: Errno) {
    self.init(part)
    add(path)
    add(errno: errno)
  }

  /// A message made of `parts`.
  public init(_ parts: StaticString...) {
    message = []
    for part in parts { message.append(contentsOf: bytes(part)) }
  }

  /// Appends a literal.
  public mutating func add(_ part: StaticString) { message.append(contentsOf: bytes(part)) }
  /// Appends a fixed text.
  public mutating func add<let n: Int>(_ text: FixedText<n>) {
    text.withBytes { message.append(contentsOf: $0) }
  }
  /// Appends a decimal integer.
  public mutating func add(decimal value: Int) { message.appendDecimal(value) }
  /// Appends ` (ENAME: message)`.
  public mutating func add(errno: Errno) {
    add(" (")
    add(errno.name)
    add(": ")
    add(errno.message)
    add(")")
  }
  /// Appends a sysfs setup failure: `message: path (ERRNO: text); found: ...; hint`.
  public mutating func add(_ error: SysfsSetupError) {
    add(error.message)
    add(": ")
    add(error.path)
    if error.errno != 0 { add(errno: Errno(rawValue: error.errno)) }
    if !error.found.isEmpty {
      add("; found: ")
      add(error.found)
    }
    if error.hint.utf8CodeUnitCount > 0 {
      add("; ")
      add(error.hint)
    }
  }
}

/// Files the program holds open for its tasks (closed when the program ends).
public struct OpenFiles: ~Copyable {
  var fds: InlineArray<8, FileDescriptor?> = InlineArray { _ in nil }
  var count = 0

  /// The fd kept last.
  public private(set) var lastFD: Int32 = -1
  /// The watchdog devices opened (opening arms one), and whether a clean exit disarms each.
  public var watchdogs: [(fd: Int32, disarm: Bool)] = []

  /// None yet.
  public init() {}

  /// Keeps `fd` open until the program ends; returns its number.
  public mutating func keep(_ fd: consuming FileDescriptor) -> Int32 {
    let raw = fd.rawValue
    fds[count] = .some(fd)
    count += 1
    lastFD = raw
    return raw
  }
}
