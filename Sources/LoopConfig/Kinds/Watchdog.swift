// The watchdog kind: watches the periodic tasks for stalls (gating systemd's `WATCHDOG=1`
// pings, printing stall records) and, with a device, kicks a hardware watchdog while none is
// stalled. At most one per config.
// {"name": "wd", "kind": "watchdog", "device": "/dev/watchdog", "kick_ms": 1000, "stall_ms": 10000}

import LoopCore
import LoopLinux
import LoopTasks

/// Watches the periodic tasks for stalls (gating systemd's `WATCHDOG=1` pings and printing
/// stall records) and, with a device, kicks a hardware watchdog while none is stalled.
public struct WatchdogConfig: Equatable, Sendable {
  /// The watchdog device (absolute path, a character device), e.g. `/dev/watchdog`; nil to
  /// supervise only.
  public var device: Path?
  /// How often the watched tasks are checked (and the device kicked).
  public var kick: Duration
  /// A watched task later than its own next deadline by more than this is stalled: kicking
  /// (and systemd's `WATCHDOG=1`) stops.
  public var stall: Duration
  /// The watched tasks, one bit per task index.
  public var watched: UInt64
  /// Whether a clean exit writes the magic 'V' so the watchdog is disarmed.
  public var disarmOnExit: Bool

  /// Whether task `index` is watched.
  public func watches(_ index: Int) -> Bool { watched & (1 << UInt64(index)) != 0 }
}

extension WatchdogConfig: TaskKindDescription {
  static var name: StaticString { "watchdog" }
  static var what: StaticString { "a watchdog task" }
  static var keys: StaticString { "device kick_ms stall_ms watch disarm_on_exit" }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    for first in v.scope.tasks.indices {
      guard v.taskKindIndex(first) == WatchdogConfig.kindIndex else { continue }
      throw v.error(
        .conflict, at: element, bytes("a second watchdog task; tasks[", first, "] already kicks the watchdog")
      )
    }
    let device = v.doc.member(element, "device") == nil ? nil : try v.path(element, "device", absolute: true)
    let kick = try v.milliseconds(element, "kick_ms", 10...60_000, default: 1000)
    let stall = try v.milliseconds(element, "stall_ms", 10...3_600_000, default: 10_000)
    if stall <= kick {
      let ms = kick.nanoseconds / 1_000_000
      if v.doc.member(element, "stall_ms") == nil {
        throw v.error(
          .range, atKey: "stall_ms", of: element,
          bytes("the default stall_ms (10000) is not more than kick_ms (", ms, "); set stall_ms"))
      }
      throw v.mismatch(
        .range, atKey: "stall_ms", of: element, expected: bytes("more than kick_ms (", ms, ")"))
    }
    var watched: UInt64 = 0
    if let node = v.doc.member(element, "watch") {
      let mark = v.push("watch")
      defer { v.pop(mark) }
      guard v.kind(node) == .array, v.doc.nodes[node].a >= 1 else {
        throw v.mismatch(
          v.kind(node) == .array ? .range : .type, at: node,
          expected: "an array of one or more task names")
      }
      for (position, item) in v.doc.elements(node).enumerated() {
        let inner = v.push(index: position)
        let watchedIndex = try v.resolveTask(item, names: v.scope.names, selfIndex: task.index)
        if watched & (1 << UInt64(watchedIndex)) != 0 {
          throw v.error(.conflict, at: item, "the task is listed twice")
        }
        watched |= 1 << UInt64(watchedIndex)
        v.pop(inner)
      }
    } else {
      for other in 0..<v.scope.names.count where other != task.index { watched |= 1 << UInt64(other) }
    }
    return WatchdogConfig(
      device: device, kick: kick, stall: stall, watched: watched,
      disarmOnExit: try v.boolean(element, "disarm_on_exit", default: true))
  }

  /// The device, when given, is held open.
  var needs: TaskNeeds {
    guard case .some = device else { return TaskNeeds(timer: true) }
    return TaskNeeds(timer: true, fds: 1)
  }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    var fd: Int32 = -1
    if let device {
      fd = try Self.open(device, kick: kick, &files)
      files.watchdogs.append((fd, disarmOnExit))
    }
    return .watchdog(
      Watchdog(
        index: task.index, device: fd, kick: kick, stall: stall, watched: watched & task.periodicTasks,
        start: task.start))
  }

  /// Opens the watchdog `device` for kicks every `kick`: a character device whose timeout (when
  /// the driver tells it) is longer than `kick`, or a FIFO (a stand-in for tests: the kicks can be
  /// read from it, and it protects nothing). Never created: a missing device is an error, not a
  /// regular file in /dev that would be "kicked" while nothing watches the board.
  static func open(_ device: Path, kick: Duration, _ files: inout OpenFiles) throws(StartupError) -> Int32 {
    var opened: FileDescriptor
    do {
      // Nonblocking: a FIFO without a reader then fails (ENXIO) instead of blocking startup.
      opened = try device.withCString { (p) throws(Errno) in
        try FileDescriptor.open(cString: p, .writeOnly | .nonBlocking)
      }
    } catch {
      throw StartupError("sensorloop: cannot open the watchdog ", device, errno: error)
    }
    let type: FileType
    do { type = try opened.fileType() } catch {
      throw StartupError("sensorloop: cannot check the watchdog ", device, errno: error)
    }
    switch type {
    case .characterDevice:
      // The driver's timeout, where it tells it (bcm2835_wdt: at most about 15 s): a kick
      // period at or above it would let the board reset between two kicks.
      if let seconds = try? opened.watchdogTimeout(), seconds > 0,
        kick >= .seconds(Int64(seconds))
      {
        // Opening armed it: disarm it before it is closed.
        _ = Watchdog.write(opened.rawValue, "V")
        var e = StartupError("sensorloop: the watchdog ")
        e.add(device)
        e.add(" resets the board after ")
        e.add(decimal: seconds)
        e.add(" s without a kick, and kick_ms is ")
        e.add(decimal: Int(kick.nanoseconds / 1_000_000))
        e.add(": set kick_ms below ")
        e.add(decimal: seconds * 1000)
        throw e
      }
    case .fifo:
      break
    default:
      var e = StartupError("sensorloop: the watchdog ")
      e.add(device)
      e.add(" is not a character device (")
      e.add(type.name)
      e.add("): kicking it would protect nothing; give the watchdog driver's device (/dev/watchdog)")
      e.add(" or leave \"device\" out to supervise without one")
      throw e
    }
    return files.keep(opened)
  }
}
