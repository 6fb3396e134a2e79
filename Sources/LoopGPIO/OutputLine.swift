// An output line: set, get and toggle its logical value. A libgpiod output writes the kernel
// (`gpiod_line_set_value` on v1, `gpiod_line_request_set_value` on v2); a mock output
// remembers its value and, when its `SimulatedGPIO` records outputs, writes every change with its
// time to its `SimulatedOutputPort`, which is how tests see what the firmware drove.

import CGPIOD
import LoopCore
import LoopLinux

/// One change of an output, as a `SimulatedOutputPort` gives it.
public struct OutputChange: Equatable, Sendable {
  /// When the task set it (the executor's clock).
  public var time: Instant
  /// The logical value set.
  public var value: Bool
  /// The physical level that results (the inverse of `value` on an active-low line).
  public var level: Bool

  /// A change at `time` to `value`, giving `level` on the pin.
  public init(time: Instant, value: Bool, level: Bool) {
    self.time = time
    self.value = value
    self.level = level
  }
}

/// A requested output line.
///
/// A set is one ioctl through libgpiod (on a mock: nothing, or one write of a change record
/// to its port's pipe), which does not block; never allocates.
public struct OutputLine: ~Copyable {
  private let handle: LineHandle
  /// How the line was requested.
  public let config: OutputConfig
  /// Which chip and name the line was found by.
  public let source: LineSource
  /// The logical value last set.
  public private(set) var value: Bool

  /// An output over `handle` (from a `GPIOSystem`), already at `config.initial`.
  package init(_ handle: consuming LineHandle, config: OutputConfig, source: LineSource, at time: Instant) {
    self.handle = handle
    self.config = config
    self.source = source
    value = config.initial
    self.handle.recordChange(at: time, value: value, level: value != config.activeLow)
  }

  /// Whether the line is a mock (nothing is written to a kernel).
  public var isSimulated: Bool { handle.isSimulated }

  /// Sets the logical value at `time`; a change is recorded. The corresponding C function is
  /// `gpiod_line_set_value` (v1) or `gpiod_line_request_set_value` (v2).
  public mutating func set(_ newValue: Bool, at time: Instant) throws(Errno) {
    if let line = handle.line {
      _ = try systemCall("OutputLine.set: gpiod_line_set_value") {
        cg_v1_gpiod_line_set_value(line, newValue ? 1 : 0)
      }
    } else if let request = handle.request {
      let offset = handle.offset
      _ = try systemCall("OutputLine.set: gpiod_line_request_set_value") {
        cg_v2_gpiod_line_request_set_value(request, offset, newValue ? 1 : 0)
      }
    }
    if newValue != value {
      value = newValue
      handle.recordChange(at: time, value: newValue, level: newValue != config.activeLow)
    }
  }

  /// Inverts the logical value at `time`.
  public mutating func toggle(at time: Instant) throws(Errno) { try set(!value, at: time) }

  /// Reads the logical value back: from the kernel for a libgpiod line, else the last set.
  /// The corresponding C function is `gpiod_line_get_value` (v1) or
  /// `gpiod_line_request_get_value` (v2).
  public func read() throws(Errno) -> Bool {
    if let line = handle.line {
      let level = try systemCall("OutputLine.read: gpiod_line_get_value") { cg_v1_gpiod_line_get_value(line) }
      return level != 0
    }
    guard let request = handle.request else { return value }
    let offset = handle.offset
    let level = try systemCall("OutputLine.read: gpiod_line_request_get_value") {
      cg_v2_gpiod_line_request_get_value(request, offset)
    }
    return level != 0
  }
}
