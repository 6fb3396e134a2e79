// Small sysfs attribute files read and written whole: what resolving a sensor or a PWM channel
// at startup needs (a device's `name`, an IIO `_scale`, a PWM chip's `npwm`, a write to
// `export`). Paths are fixed-capacity text, so nothing is allocated; the reads here are for
// attributes that answer at once, never for a value that takes a bus transfer (a 1-Wire
// `temperature` goes through `BlockingWorker`).

import CLinux
import LoopCore

/// A sysfs path: at most 255 bytes.
public typealias SysfsPath = FixedText<256>

/// The contents of a small sysfs file, cut at 255 bytes.
public typealias SysfsText = FixedText<256>

/// Whole-file reads and writes of sysfs attributes.
public enum SysfsFile {
  /// Whether `path` exists (a file or a directory). The corresponding C function is `open`.
  @inline(never)
  public static func exists(_ path: borrowing SysfsPath) -> Bool {
    do throws(Errno) {
      let fd = try path.withCString { (p) throws(Errno) in
        try FileDescriptor.open(cString: p, .readOnly | .nonBlocking)
      }
      _ = fd
      return true
    } catch {
      return false
    }
  }

  /// The file's text (up to 255 bytes; a longer file is cut and its text marked `truncated`),
  /// read from offset 0 in one read. The corresponding C functions are `open` and `pread`.
  public static func read(_ path: borrowing SysfsPath) throws(Errno) -> SysfsText {
    let fd = try path.withCString { (p) throws(Errno) in
      try FileDescriptor.open(cString: p, .readOnly | .nonBlocking)
    }
    var buffer = InlineArray<256, UInt8>(repeating: 0)
    var span = buffer.mutableSpan
    let count = try span.withUnsafeMutableBytes { (raw) throws(Errno) in
      try fd.read(into: raw, atOffset: 0)
    }
    var text = SysfsText()
    buffer.span.withUnsafeBufferPointer { all in
      // SAFETY: the first `count` bytes (at most 256) are what the read put there.
      text.append(bytes: UnsafeBufferPointer(rebasing: all[0..<min(count, 255)]))
    }
    if count > 255 { text.append(byte: 0) }  // marks the text truncated (it is full)
    return text
  }

  /// Waits, off the loop (startup only), until `path` can be opened for writing or `timeout`
  /// passes, in 10 ms sleeps; true when it can. A file sysfs has just made (a PWM channel after
  /// `export`) belongs to root until udev gives it to its group a moment later: on Pi OS a
  /// program in the `gpio` group gets EACCES until then. The corresponding C functions are `open`
  /// and `clock_nanosleep`.
  public static func waitUntilWritable(_ path: borrowing SysfsPath, timeout: Duration) -> Bool {
    let deadline = monotonicNow() + timeout
    while true {
      do throws(Errno) {
        let fd = try path.withCString { (p) throws(Errno) in
          try FileDescriptor.open(cString: p, .writeOnly | .nonBlocking)
        }
        _ = fd
        return true
      } catch {
        if monotonicNow() >= deadline { return false }
      }
      var step = timespec(tv_sec: 0, tv_nsec: 10_000_000)
      _ = cl_clock_nanosleep(CLOCK_MONOTONIC, 0, &step, nil)
    }
  }

  /// Writes `text` to the attribute at `path` in one write (opened write-only, truncated, so a
  /// regular file holds just the new value as a sysfs attribute does). The corresponding C
  /// functions are `open` and `write`.
  public static func write<let n: Int>(_ path: borrowing SysfsPath, _ text: borrowing FixedText<n>)
    throws(Errno)
  {
    let fd = try path.withCString { (p) throws(Errno) in
      try FileDescriptor.open(cString: p, .writeOnly | .truncate)
    }
    let written = try text.withBytes { (bytes) throws(Errno) in
      try fd.write(UnsafeRawBufferPointer(bytes))
    }
    // A sysfs store takes the whole buffer or fails; a short write is the driver refusing.
    if written != text.count { throw .invalidArgument }
    try fd.close()
  }
}

extension FixedText {
  /// The text with trailing newlines, carriage returns, blanks and NULs removed.
  @inline(never)
  public var trimmed: FixedText {
    var end = count
    while end > 0 {
      let b = self[end - 1]
      guard b == 0x0A || b == 0x0D || b == 0x20 || b == 0x09 || b == 0 else { break }
      end -= 1
    }
    var out = FixedText()
    for i in 0..<end { out.append(byte: self[i]) }
    return out
  }

  /// The text's first line (up to the first newline, which is not included), trimmed.
  public var firstLine: FixedText {
    var out = FixedText()
    for i in 0..<count {
      if self[i] == 0x0A { break }
      out.append(byte: self[i])
    }
    return out.trimmed
  }

  /// The unsigned decimal integer the trimmed text is, or nil.
  public var unsignedValue: Int? {
    let t = trimmed
    guard t.count > 0 && t.count <= 18 else { return nil }
    var value = 0
    for i in 0..<t.count {
      let b = t[i]
      guard b >= 0x30 && b <= 0x39 else { return nil }
      value = value * 10 + Int(b - 0x30)
    }
    return value
  }

  /// Whether the text begins with `prefix`.
  @inline(never)
  public func hasPrefix(_ prefix: StaticString) -> Bool {
    let n = prefix.utf8CodeUnitCount
    guard n <= count else { return false }
    for i in 0..<n where self[i] != prefix.utf8Start[i] { return false }
    return true
  }
}

/// Why a sysfs device (a sensor, a PWM channel) could not be set up or driven, with what the user
/// needs to fix it.
public struct SysfsSetupError: Error, Sendable {
  /// What went wrong.
  public var message: StaticString
  /// The file or directory concerned.
  public var path: SysfsPath
  /// The errno of the failed call, 0 when none.
  public var errno: Int32
  /// What exists instead (device names, sensor ids, chip numbers and drivers), comma-separated;
  /// empty when nothing does.
  public var found: FixedText<128>
  /// What to do about it (the overlay to enable), empty when there is nothing to add.
  public var hint: StaticString

  /// `message` about `path`.
  @inline(never)
  public init(_ message: StaticString, path: SysfsPath, errno: Int32 = 0, hint: StaticString = "") {
    self.message = message
    self.path = path
    self.errno = errno
    found = FixedText()
    self.hint = hint
  }

  /// Makes this error `message` about `path`, in place: a search writes its failure here and
  /// its public caller throws it once (an error of ~450 bytes thrown or rethrown at every step
  /// was copied at every step).
  @inline(never)
  public mutating func set(
    _ message: StaticString, path: borrowing SysfsPath, errno: Int32 = 0, hint: StaticString = ""
  ) {
    self.message = message
    self.path = copy path
    self.errno = errno
    found = FixedText()
    self.hint = hint
  }
}
