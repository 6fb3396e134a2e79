// The errors GPIO startup reports, each a typed value with a one-line message the user can act
// on: which chips exist (with labels) when a chip is not found, which names a chip's lines have
// when a line is not found, who holds a busy line, and which device needs the `gpio` group.
// Messages are built from literals and fixed-size names, never `String(describing:)`.

import LoopCore
import LoopLinux

/// What went wrong while finding or requesting a GPIO chip or line.
public struct GPIOError: Error, Equatable {
  /// The kind of failure, for code that reacts to it.
  public enum Kind: UInt8, Equatable, Sendable {
    /// No chip matches the label, name or path.
    case chipNotFound
    /// The path exists but is not a GPIO chip device.
    case notAChip
    /// The chip has no line with any of the names (or the offset) asked for.
    case lineNotFound
    /// Another consumer holds the line.
    case lineBusy
    /// The chip device cannot be opened by this user.
    case permissionDenied
    /// Any other system error.
    case system
    /// libgpiod itself is not installed (neither libgpiod.so.3 nor libgpiod.so.2 loads).
    case libraryMissing
  }

  /// The kind of failure.
  public var kind: Kind
  /// The system error behind it, when there is one.
  public var errno: Errno?
  /// The one-line message for the user (no trailing newline).
  public var message: FixedText<1024>

  /// An error of `kind` whose message starts with "gpio: ".
  public init(_ kind: Kind, errno: Errno? = nil) {
    self.kind = kind
    self.errno = errno
    message = FixedText("gpio: ")
  }

  /// Calls `body` with the message bytes.
  public func withMessage<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
    try message.withBytes(body)
  }
}

extension FixedText {
  /// Appends `name` in double quotes.
  mutating func append<let n: Int>(quoted name: borrowing FixedText<n>) {
    append("\"")
    append(name)
    append("\"")
  }

  /// Appends `chipName [label]`.
  mutating func append(chip: ChipInfo) {
    append(chip.name)
    append(" [")
    if chip.accessible {
      append(chip.label)
    } else {
      append("no access")
    }
    append("]")
  }

  /// Appends an errno as `EACCES (permission denied)`.
  mutating func append(errno: Errno) {
    append(errno.name)
    append(" (")
    append(errno.message)
    append(")")
  }
}
