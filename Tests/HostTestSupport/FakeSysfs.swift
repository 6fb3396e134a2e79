// Test support (never on the board): a sysfs tree in a temporary directory, for the tests of
// the sensor presets and hardware PWM (LoopTasksTests) and of the program with `sysfs_root`
// (SensorloopTests). Each test module adds the layouts it needs in an extension.

import Foundation

/// A sysfs tree in a temporary directory, removed with the value.
public final class FakeSysfs {
  /// The tree's root (absolute).
  public let root: String

  /// A new tree in `directory` (the temporary directory unless given: /dev/shm keeps a long
  /// run's reads and writes off a busy disk).
  public init(in directory: String = NSTemporaryDirectory()) {
    let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    root = base + "/sysfs-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  /// Writes `text` to `relative` (under the root), making its directories.
  public func file(_ relative: String, _ text: String) {
    let full = root + "/" + relative
    try! FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try! text.write(toFile: full, atomically: false, encoding: .utf8)
  }

  /// What `relative` holds now.
  public func read(_ relative: String) -> String? {
    try? String(contentsOfFile: root + "/" + relative, encoding: .utf8)
  }

  /// Removes `relative` (a file or a whole directory: a sensor unplugged).
  public func remove(_ relative: String) {
    try? FileManager.default.removeItem(atPath: root + "/" + relative)
  }
}
